// The console page: a full-window xterm.js terminal on one guest console device of the guest
// its address names (`guest=`, and `hypervisor=` when the host serves several: see
// guest-ref.js; every REST call for the guest goes to that hypervisor).
//
// The WebSocket URL comes from the POST answer the page was opened with (`#ws=` in the
// fragment, dropped from the address bar at once so a reload never reuses a spent token)
// or from the page's own POST, on load without one and on Reconnect. A `#ws=` URL is used
// only if it is one this host hands out (console.json says how they start); a link to any
// other server is refused, so nothing typed here can reach it. With `mode=view` in the
// query the page only watches (console-mode.js). A page that comes back to a console it
// left (reload, Reconnect) is reattached by the server, which first replays the recent
// output. `escape=` in the query picks the key that ends the session (Ctrl+Q, Ctrl+] or
// none); a writer's page has the Send menu.

import { ApiError, closeConsole, consoleUrlPrefix, needsLogin, resumeSession } from "./api.js";
import { showEarlierLog, startGuestOnce } from "./boot-log.js";
import { readClipboard, writeClipboard } from "./clipboard.js";
import { ConsoleConnection, isHandedOut, takeFragmentUrl } from "./console-connection.js";
import { checkWriteRights, modeHref } from "./console-mode.js";
import { IN_USE, requestConsole } from "./console-open.js";
import { askedEscape, DEFAULT_ESCAPE, escapeBytes, escapeHint, escapeHref } from "./escape-key.js";
import { guestLabel, pageGuest } from "./guest-ref.js";
import { _, format, loadCatalog, translateTree } from "./i18n.js";
import { LogView } from "./log-view.js";
import { RecordingsView } from "./recordings-view.js";
import { askLogin } from "./login.js";
import { refusedLinkText, showNotice, terminalLoaded, unbuiltText } from "./notice.js";
import { SendMenu } from "./send-menu.js";
import { changeFontSize, createTerminal, FONT_SIZES, storedFontSize } from "./terminal.js";
import { downloadTranscript } from "./transcript.js";

const query = new URLSearchParams(location.search);
const guest = pageGuest(query);
let device = query.get("device") || "";
const viewOnly = query.get("mode") === "view";
// The escape key this page asks for (null: the host's default) and the one in effect.
const askedKey = askedEscape(query);
let escapeKey = askedKey || DEFAULT_ESCAPE;
const startFirst = query.get("start") === "1"; // the guest list's Start: start it, watch the boot
const $ = (id) => document.getElementById(id);
const report = (text) => ($("status-text").textContent = text);

let term;
let fit;
let connection = null;
let mayTakeOver = true; // false once the guest's rights say so
let logView = null;
let state = "loading"; // until the page connects, is refused or finds no xterm.js

/** Without xterm.js the page can do nothing: say so, and how to build the web UI. */
function showUnbuilt() {
  state = "unbuilt";
  document.body.dataset.state = state;
  showNotice(unbuiltText());
  $("status-text").textContent = unbuiltText();
  for (const button of document.querySelectorAll("button")) {
    button.disabled = true;
  }
}

/** A `#ws=` link to anything but this host's consoles: never connect, say why. */
function refuseLink(url) {
  showNotice(refusedLinkText(url));
  setState("disconnected", refusedLinkText(url));
}

function setState(next, detail = "") {
  state = next;
  document.body.dataset.state = next;
  const labels = {
    connecting: _("Connecting…"),
    connected: viewOnly ? _("Watching (view only)") : _("Connected"),
    disconnected: detail ? format(_("Disconnected: %(reason)s"), { reason: detail }) : _("Disconnected"),
  };
  $("status-text").textContent = detail && next === "connected" ? detail : labels[next];
  $("reconnect").disabled = next !== "disconnected";
  $("disconnect").disabled = next !== "connected";
  term.options.disableStdin = viewOnly || next !== "connected";
  term.options.cursorBlink = next === "connected";
}

function showTakeOver(visible) {
  $("takeover").hidden = !(visible && mayTakeOver);
  $("watch").hidden = !visible;
}

/** The escape key in effect: the hint says it, the selector shows it. */
function setEscapeKey(key) {
  escapeKey = key;
  $("escape-key").value = key;
  if (!viewOnly) {
    $("hint").textContent = escapeHint(key);
  }
}

/** Disconnect: the escape key, which the console obeys, or else end the session. */
async function disconnect() {
  const bytes = escapeBytes(escapeKey);
  if (bytes && connection) {
    connection.send(bytes); // the console ends itself and says why
    return;
  }
  try {
    await closeConsole(guest, device);
  } catch (error) {
    $("status-text").textContent = error instanceof ApiError ? error.reason : String(error);
  }
}

async function requestUrl(force) {
  const answer = await requestConsole(guest, device, {
    force,
    mode: viewOnly ? "view" : "write",
    escape: askedKey,
  });
  device = answer.device;
  setEscapeKey(answer.escape || escapeKey);
  return answer;
}

/** Connect to `url`, or first ask the REST API for one (`force` takes a busy console over). */
async function connect({ url = null, force = false } = {}) {
  if (connection) {
    connection.close();
    connection = null;
  }
  showTakeOver(false);
  setState("connecting");
  let connectedText = "";
  if (!url) {
    try {
      const answer = await requestUrl(force);
      url = answer.ws_url;
      connectedText = reattachedText(answer);
    } catch (error) {
      const reason = error instanceof ApiError ? error.reason : String(error);
      setState("disconnected", reason);
      showTakeOver(error instanceof ApiError && error.code === IN_USE);
      if (needsLogin(error)) {
        await askLogin($("login"));
        await connect({ force });
      }
      return;
    }
  }
  const current = new ConsoleConnection(url, {
    open: () => {
      setState("connected", connectedText);
      term.focus();
    },
    output: (text) => term.write(text),
    closed: ({ reason }) => {
      if (connection !== current) {
        return;
      }
      connection = null;
      // xterm.js parses what it is given a moment later: the page says the console ended
      // once its last output (often why it ended) is on screen, not before.
      term.write("", () => setState("disconnected", reason || _("The connection closed.")));
    },
  });
  connection = current;
}

/** What the status bar says about a reattach (the server replays its recent output). */
function reattachedText(answer) {
  if (!answer.reattached || viewOnly) {
    return "";
  }
  if (term.buffer.active.length > term.rows || term.buffer.active.cursorY > 0) {
    term.write("\r\n\x1b[2m[serialconsole] " + _("recent output follows") + "\x1b[0m\r\n");
  }
  return format(_("Reattached: %(bytes)s bytes of recent output replayed"), {
    bytes: answer.replay_bytes,
  });
}

function setFontSize(size) {
  const value = changeFontSize(term, size);
  $("font-size").textContent = String(value);
  $("font-smaller").disabled = value <= FONT_SIZES.min;
  $("font-larger").disabled = value >= FONT_SIZES.max;
  fit.fit();
}

function setTitle() {
  const name = guest.name ? guestLabel(guest) : "?";
  document.title = format(_("%(guest)s – serial console"), { guest: name });
  $("guest-name").textContent = name;
  $("device-name").textContent = device;
  $("view-only").hidden = !viewOnly;
  $("hint").textContent = viewOnly
    ? _("View only: what you type is not sent to the guest. Ctrl+Shift+C copies; F6 leaves the terminal.")
    : $("hint").textContent;
}

async function paste() {
  const text = await readClipboard();
  if (text === null) {
    $("hint").focus();
    return;
  }
  term.paste(text);
  term.focus();
}

function bindControls() {
  $("reconnect").addEventListener("click", () => connect());
  $("takeover").addEventListener("click", () => connect({ force: true }));
  $("watch").addEventListener("click", () => location.assign(modeHref("view", device)));
  $("download").addEventListener("click", () => downloadTranscript(guest, device, report));
  $("disconnect").addEventListener("click", disconnect);
  $("escape-key").addEventListener("change", (event) => location.assign(escapeHref(event.target.value, device)));
  $("copy").addEventListener("click", async () => {
    await writeClipboard(term.getSelection());
    term.focus();
  });
  $("paste").addEventListener("click", paste);
  $("font-smaller").addEventListener("click", () => setFontSize(term.options.fontSize - 1));
  $("font-larger").addEventListener("click", () => setFontSize(term.options.fontSize + 1));
  logView = new LogView(guest, () => device, {
    fontSize: () => term.options.fontSize,
    onClose: () => term.focus(),
  });
  logView.bind();
  new RecordingsView(guest, { onClose: () => term.focus() }).bind();
}

/** A page asked to write without the right to: reopened view only. Else false. */
async function reopenedViewOnly() {
  if (viewOnly) {
    return false;
  }
  const { reopened, mayTakeOver: may } = await checkWriteRights(guest, device);
  mayTakeOver = may;
  return reopened;
}

async function main() {
  const link = takeFragmentUrl();
  window.serialconsole = {
    get state() {
      return state;
    },
    get term() {
      return term;
    },
    get fit() {
      return fit;
    },
    get connection() {
      return connection;
    },
    get logView() {
      return logView;
    },
    connect,
    translateTree,
  };
  await loadCatalog();
  if (!terminalLoaded()) {
    showUnbuilt();
    return;
  }
  await resumeSession();
  if (link === null && (await reopenedViewOnly())) {
    return;
  }
  ({ term, fit } = createTerminal($("terminal"), {
    onData: (data) => connection && connection.send(data),
    onBinary: (data) => connection && connection.sendBytes(data),
    leave: () => ($("reconnect").disabled ? $("disconnect").focus() : $("reconnect").focus()),
  }));
  setTitle();
  setEscapeKey(escapeKey);
  setFontSize(storedFontSize());
  bindControls();
  $("escape-field").hidden = viewOnly;
  if (startFirst && !(await startGuestOnce(guest, { setState, loginForm: $("login") }))) {
    return;
  }
  await showEarlierLog(term, guest, device);
  if (link === null) {
    await connect();
  } else if (isHandedOut(link, await consoleUrlPrefix())) {
    await connect({ url: link });
  } else {
    refuseLink(link);
  }
  if (!viewOnly) {
    await new SendMenu(guest, () => device, report).install();
  }
}

main();
