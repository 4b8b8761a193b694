// The plugin's REST API, relative to the page (both live at the plugin's mount point), and
// the host's login (/auth): a browser logs in once; its session cookie goes along by itself
// (to the WebSocket too), and requests that change something carry the CSRF token.

import { withLanguage } from "./i18n.js";

const AUTH = "/auth/";
let csrfToken = null;

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
  if (csrfToken && method !== "GET") {
    options.headers["X-CSRF-Token"] = csrfToken;
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

/** True when the request failed for want of a login (or of a fresh one). */
export function needsLogin(error) {
  return error instanceof ApiError && (error.status === 401 || error.code === "SCONS0019E");
}

/** Pick up an existing login session's CSRF token (the cookie alone can't give it). */
export async function resumeSession() {
  try {
    const session = await call("GET", AUTH + "session");
    csrfToken = (session && session.csrf_token) || null;
  } catch {
    csrfToken = null; // not logged in, or a host without /auth: requests will say
  }
}

/** Log in: the session cookie is set by the answer; keep its CSRF token. */
export async function logIn(username, password) {
  const answer = await call("POST", AUTH + "login", { username, password });
  csrfToken = answer.csrf_token || null;
  return answer.user;
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
