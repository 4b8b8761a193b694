// The plugin's REST API, relative to the page (both live at the plugin's mount point), and
// the host's login (/auth): a browser logs in once; its session cookie goes along by itself
// (to the WebSocket too), and requests that change something carry the CSRF token. A
// guest is a `{name, hypervisor}` reference (guest-ref.js): its calls go to its hypervisor.

import { guestPath } from "./guest-ref.js";
import { withLanguage } from "./i18n.js";

const AUTH = "/auth/";
// A host without /auth (Wok) logs its operators in on its own page, then sends them back.
const HOST_LOGIN_PAGE = "/login.html";
let csrfToken = null;
let hostLogin = false;

/** A REST error: `code` (SCONS####E) and `reason`, already in the page's language. */
export class ApiError extends Error {
  constructor(status, code, reason) {
    super(reason);
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

async function fetchOrFail(path, options) {
  try {
    return await fetch(withLanguage(path), options);
  } catch (error) {
    throw new ApiError(0, "", String(error.message || error));
  }
}

async function jsonOrNull(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** The ApiError a failed answer carries (its JSON body has `code` and `reason`). */
async function failure(response) {
  const document = await jsonOrNull(response);
  const reason = (document && document.reason) || `HTTP ${response.status}`;
  return new ApiError(response.status, (document && document.code) || "", reason);
}

async function call(method, path, body) {
  const options = {
    method,
    credentials: "same-origin",
    // Marks the request as the page's own (Wok asks this of a request on its login cookie).
    headers: { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  if (csrfToken && method !== "GET") {
    options.headers["X-CSRF-Token"] = csrfToken;
  }
  const response = await fetchOrFail(path, options);
  if (!response.ok) {
    throw await failure(response);
  }
  return jsonOrNull(response);
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
  } catch (error) {
    csrfToken = null; // not logged in, or a host without /auth: requests will say
    hostLogin = error instanceof ApiError && error.status === 404;
  }
}

/** The host's own login page (Wok's), to come back to the page after; null with /auth. */
export function hostLoginUrl() {
  if (!hostLogin) {
    return null;
  }
  const page = window.top.location; // the tab's frame logs the whole Wok page in
  return HOST_LOGIN_PAGE + "?next=" + encodeURIComponent(page.pathname + page.search + page.hash);
}

/** Log in: the session cookie is set by the answer; keep its CSRF token. */
export async function logIn(username, password) {
  const answer = await call("POST", AUTH + "login", { username, password });
  csrfToken = answer.csrf_token || null;
  return answer.user;
}

/** The start of every console URL this host hands this page (console.json), or null. */
export async function consoleUrlPrefix() {
  try {
    const response = await fetch("console.json", {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const settings = response.ok ? await jsonOrNull(response) : null;
    return (settings && settings.ws_url_prefix) || null;
  } catch {
    return null;
  }
}

/** Every guest one may view: [{name, uuid, state, consoles: [{alias, type}], hypervisor,
 * rights, log_written}]; `state` is "unreachable" while its hypervisor does not answer. */
export function listGuests() {
  return call("GET", "vms");
}

/** Every hypervisor the host serves: [{name, uri, state, reason, since, guests}]. */
export function listHypervisors() {
  return call("GET", "hypervisors");
}

/** The rights one has on `guest` (["view", "console", …]), or null if unknown. */
export async function guestRights(guest) {
  try {
    const answer = await call("GET", guestPath(guest));
    return Array.isArray(answer.rights) ? answer.rights : null;
  } catch {
    return null;
  }
}

/** Start a shut-off guest: paused, its consoles captured, then resumed (the boot is logged). */
export function startGuest(guest) {
  return call("POST", guestPath(guest) + "/start", {});
}

/** Where a console device's capture log downloads from. */
export function logPath(guest, device) {
  return guestPath(guest) + "/serial/log?device=" + encodeURIComponent(device);
}

/**
 * Open a console ("write") or watch it ("view"), with an escape key ("ctrl-q", "ctrl-]",
 * "none"; null: the host's default):
 * {token, ws_url, page, expires_in, device, mode, reattached, replay_bytes, escape}.
 */
export function openConsole(guest, device, { force = false, mode = "write", escape = null } = {}) {
  const body = {};
  if (escape) {
    body.escape = escape;
  }
  if (device) {
    body.device = device;
  }
  if (force) {
    body.force = true;
  }
  if (mode !== "write") {
    body.mode = mode;
  }
  return call("POST", guestPath(guest) + "/serial", body);
}

/** End the console session of `guest`'s `device` (for a page without an escape key). */
export function closeConsole(guest, device) {
  return call("DELETE", guestPath(guest) + "/serial?device=" + encodeURIComponent(device));
}

/** What may be sent to the guest: {actions, sysrq_keys, destructive, control_keys}. */
export function sendOptions(guest) {
  return call("GET", guestPath(guest) + "/send");
}

/** Send SysRq, NMI, Ctrl+Alt+Del, Break or a control key: {sent, ...}. */
export function sendToGuest(guest, body) {
  return call("POST", guestPath(guest) + "/send", body);
}

/** The guest's console sessions (captures among them: `capture` true, `since` when). */
export function guestSessions(guest) {
  return call("GET", guestPath(guest) + "/serial");
}

/** A console device's capture log, as bytes (for a terminal to show); `until` (ISO time)
 * keeps what started before it. */
export async function fetchLog(guest, device, { until = null, tail = null } = {}) {
  const path =
    logPath(guest, device) +
    (until ? "&until=" + encodeURIComponent(until) : "") +
    (tail !== null ? "&tail=" + encodeURIComponent(tail) : "");
  const response = await fetchOrFail(path, { credentials: "same-origin" });
  if (!response.ok) {
    throw await failure(response);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** The guest's recent console sessions, newest first (needs the audit right):
 * [{session, operator, mode, device, start, end, duration, complete, reason}]. */
export function listRecordings(guest) {
  return call("GET", guestPath(guest) + "/recordings");
}

/** Where one console session's recording (an asciicast v2 file) downloads from. */
export function recordingPath(guest, session) {
  return guestPath(guest) + "/recordings/" + encodeURIComponent(session);
}

/** One console session's recording, as the text of its asciicast v2 file. */
export async function fetchRecording(guest, session) {
  const response = await fetchOrFail(recordingPath(guest, session), { credentials: "same-origin" });
  if (!response.ok) {
    throw await failure(response);
  }
  return response.text();
}

/** The console's recent output (the server's ring buffer) as a Blob, and its file name. */
export async function fetchTranscript(guest, device) {
  const path = guestPath(guest) + "/serial/transcript?device=" + encodeURIComponent(device);
  const response = await fetchOrFail(path, { credentials: "same-origin" });
  if (!response.ok) {
    throw await failure(response);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { blob: await response.blob(), name: match ? match[1] : "console.log" };
}
