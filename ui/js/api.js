// The plugin's REST API, relative to the page (both live at the plugin's mount point).

import { withLanguage } from "./i18n.js";

/** A REST error: `code` (SCONS####E) and `reason`, already in the page's language. */
export class ApiError extends Error {
  constructor(status, code, reason) {
    super(reason);
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

async function call(method, path, body) {
  const options = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(withLanguage(path), options);
  } catch (error) {
    throw new ApiError(0, "", String(error.message || error));
  }
  let document = null;
  try {
    document = await response.json();
  } catch {
    document = null;
  }
  if (!response.ok) {
    const reason = (document && document.reason) || `HTTP ${response.status}`;
    throw new ApiError(response.status, (document && document.code) || "", reason);
  }
  return document;
}

export function guestPath(guest) {
  return "vms/" + encodeURIComponent(guest);
}

/** Every guest: [{name, uuid, state, consoles: [{alias, type}]}]. */
export function listGuests() {
  return call("GET", "vms");
}

/** Open a console: {token, ws_url, page, expires_in, device}. */
export function openConsole(guest, device, force = false) {
  const body = {};
  if (device) {
    body.device = device;
  }
  if (force) {
    body.force = true;
  }
  return call("POST", guestPath(guest) + "/serial", body);
}
