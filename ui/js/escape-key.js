// The key that ends a console session and never reaches the guest: Ctrl+Q, Ctrl+] or none
// (only the Disconnect button). The page asks for one with `escape=` in its address (else
// the host's default); the POST answer says which is in effect.

import { _ } from "./i18n.js";

const BYTES = { "ctrl-q": "\x11", "ctrl-]": "\x1d", none: null };
export const DEFAULT_ESCAPE = "ctrl-q";

/** The escape key `query` asks for, or null for the host's default. */
export function askedEscape(query) {
  const key = query.get("escape");
  return Object.hasOwn(BYTES, key) ? key : null;
}

/** What to send for `key` to end the session, or null when no key does. */
export function escapeBytes(key) {
  return BYTES[key] ?? null;
}

/** The status bar's hint for `key`. */
export function escapeHint(key) {
  const lead = {
    "ctrl-q": _("Ctrl+Q disconnects."),
    "ctrl-]": _("Ctrl+] disconnects."),
    none: _("Only the Disconnect button disconnects."),
  }[key];
  const rest = _("Ctrl+Shift+C and Ctrl+Shift+V copy and paste; the context menu works too. F6 leaves the terminal.");
  return lead + " " + rest;
}

/** This page's address with escape key `key` for `device` (the console is reattached). */
export function escapeHref(key, device) {
  const next = new URLSearchParams(location.search);
  next.set("device", device);
  next.set("escape", key);
  return "console.html?" + next.toString();
}
