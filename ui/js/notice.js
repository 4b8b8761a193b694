// What the console page will not do, and why, shown above the terminal until the page is
// left: a link to a WebSocket server that is not this host's, or a web UI that was never
// built (no xterm.js).

import { _, format } from "./i18n.js";

/** True when xterm.js and its addons loaded (`make ui` installs them). */
export function terminalLoaded() {
  return (
    typeof window.Terminal === "function" &&
    typeof window.FitAddon?.FitAddon === "function" &&
    typeof window.Unicode11Addon?.Unicode11Addon === "function"
  );
}

/** Show `text` in the page's notice (an alert: screen readers say it at once). */
export function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = false;
}

/** Where a refused URL points, for the message (its host if it parses at all). */
function addressOf(url) {
  try {
    return new URL(url).host || url.slice(0, 80);
  } catch {
    return url.slice(0, 80);
  }
}

export function refusedLinkText(url) {
  return format(
    _("Refused to connect to %(address)s: this page connects only to the consoles this host hands out."),
    { address: addressOf(url) },
  );
}

export function unbuiltText() {
  return _(
    "The web UI is not built on this host: run `make ui` in the plugin's source checkout (and set ui_dir to its ui/ directory if the plugin was installed from it).",
  );
}
