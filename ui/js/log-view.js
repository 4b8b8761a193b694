// The Log view of the console page: the device's whole capture log (both generations, as
// GET .../serial/log answers it) in a read-only terminal of its own, with search (xterm.js's
// search addon), a jump to the next boot, and a download. The live console stays connected
// underneath; "Back to console" returns to it.

import { ApiError, fetchLog, logPath } from "./api.js";
import { _, format } from "./i18n.js";

const BOOT_LINE = "-- serialconsole: guest started at ";
const $ = (id) => document.getElementById(id);

export class LogView {
  constructor(guest, device, { fontSize, onClose }) {
    this.guest = guest;
    this.device = device; // a function: the console's device may be learnt late
    this.fontSize = fontSize;
    this.onClose = onClose;
    this.term = null;
    this.search = null;
    this.fit = null;
  }

  bind() {
    $("log").addEventListener("click", () => this.open());
    $("log-close").addEventListener("click", () => this.close());
    $("log-next").addEventListener("click", () => this.find($("log-search").value, true));
    $("log-previous").addEventListener("click", () => this.find($("log-search").value, false));
    $("log-boot").addEventListener("click", () => this.find(BOOT_LINE, true));
    $("log-search").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.find($("log-search").value, !event.shiftKey);
      }
    });
  }

  async open() {
    document.body.classList.add("showing-log");
    $("log-view").hidden = false;
    $("log-download").href = logPath(this.guest, this.device());
    this.status(_("Loading the log…"));
    let bytes;
    try {
      bytes = await fetchLog(this.guest, this.device());
    } catch (error) {
      this.status(error instanceof ApiError ? error.reason : String(error));
      return;
    }
    this.ensureTerminal();
    this.term.reset();
    this.term.write(bytes, () => {
      this.status(format(_("Log: %(bytes)s bytes"), { bytes: bytes.length }));
      $("log-search").focus();
    });
  }

  ensureTerminal() {
    if (this.term) {
      return;
    }
    this.term = new window.Terminal({
      fontFamily: '"DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono", monospace',
      fontSize: this.fontSize(),
      scrollback: 100000,
      disableStdin: true,
      convertEol: false,
    });
    this.fit = new window.FitAddon.FitAddon();
    this.search = new window.SearchAddon.SearchAddon();
    this.term.loadAddon(this.fit);
    this.term.loadAddon(this.search);
    this.term.open($("log-terminal"));
    new ResizeObserver(() => this.fit.fit()).observe($("log-terminal"));
    this.fit.fit();
  }

  find(text, forward) {
    if (!this.search || !text) {
      return false;
    }
    const found = forward ? this.search.findNext(text) : this.search.findPrevious(text);
    this.status(found ? format(_("Found: %(text)s"), { text }) : format(_("Not found: %(text)s"), { text }));
    return found;
  }

  status(text) {
    $("log-status").textContent = text;
  }

  close() {
    $("log-view").hidden = true;
    document.body.classList.remove("showing-log");
    this.onClose();
  }
}
