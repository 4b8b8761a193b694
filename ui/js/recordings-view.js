// The Recordings view of the console page: the guest's recent console sessions (GET
// .../recordings, for operators with the audit right) and one of them played back with the
// asciinema player from the npm registry, what its writer typed listed beside it (a click
// seeks there). The live console stays connected underneath; "Back to console" returns.

import { ApiError, fetchRecording, guestRights, listRecordings, recordingPath } from "./api.js";
import { _, currentLanguage, format } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const FONT = '"DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono", monospace';

/** The input events of an asciicast v2 file: [{time, text}]. */
export function typedEvents(cast) {
  const typed = [];
  for (const line of cast.split("\n").slice(1)) {
    try {
      const [time, kind, text] = JSON.parse(line);
      if (kind === "i") {
        typed.push({ time, text });
      }
    } catch {
      // an empty last line
    }
  }
  return typed;
}

/** Keystrokes (a browser sends each on its own) joined into lines, each ending at Enter,
 * timed by its first keystroke: [{time, text}]. */
export function typedLines(typed) {
  const lines = [];
  let open = null;
  for (const event of typed) {
    if (open === null) {
      open = { time: event.time, text: "" };
      lines.push(open);
    }
    open.text += event.text;
    if (/[\r\n]$/.test(event.text)) {
      open = null;
    }
  }
  return lines;
}

/** Typed text as it can be read in a list: Enter as ⏎, other control keys as ^X. */
function visible(text) {
  return text.replace(/[\x00-\x1f\x7f]/g, (ch) => {
    if (ch === "\r" || ch === "\n") {
      return "⏎";
    }
    return ch === "\x7f" ? "⌫" : "^" + String.fromCharCode(ch.charCodeAt(0) + 64);
  });
}

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

export class RecordingsView {
  constructor(guest, { onClose }) {
    this.guest = guest;
    this.onClose = onClose;
    this.player = null;
    this.cast = null;
    this.typed = [];
  }

  /** The Recordings button, shown to operators with the audit right on the guest. */
  async bind() {
    $("recordings").addEventListener("click", () => this.open());
    $("recordings-close").addEventListener("click", () => this.close());
    $("recording-speed").addEventListener("change", () => this.restart());
    const rights = await guestRights(this.guest);
    $("recordings").hidden = !(rights && rights.includes("audit"));
  }

  async open() {
    document.body.classList.add("showing-recordings");
    $("recordings-view").hidden = false;
    this.status(_("Loading the recordings…"));
    let sessions;
    try {
      sessions = await listRecordings(this.guest);
    } catch (error) {
      this.status(error instanceof ApiError ? error.reason : String(error));
      return;
    }
    this.render(sessions);
    this.status(
      sessions.length
        ? format(_("Recent console sessions: %(count)s"), { count: sessions.length })
        : _("No recordings of this guest's consoles yet."),
    );
    $("recordings-close").focus();
  }

  render(sessions) {
    const rows = sessions.map((session) => {
      const row = document.createElement("tr");
      const started = new Date(session.start).toLocaleString(currentLanguage());
      const duration =
        session.duration === null ? _("going on") : format(_("%(seconds)s s"), {
          seconds: Math.round(session.duration),
        });
      const cells = [
        session.operator || "—",
        started,
        duration,
        session.mode === "view" ? _("Viewer") : _("Writer"),
        session.device,
      ];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const actions = document.createElement("td");
      const play = document.createElement("button");
      play.type = "button";
      play.textContent = _("Play");
      play.addEventListener("click", () => this.play(session));
      const download = document.createElement("a");
      download.className = "button";
      download.href = recordingPath(this.guest, session.session);
      download.download = "";
      download.textContent = _("Download");
      actions.append(play, " ", download);
      if (!session.complete) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = _("Incomplete");
        badge.title = _("The log no longer holds the start of this session.");
        actions.append(" ", badge);
      }
      row.dataset.session = session.session;
      row.append(actions);
      return row;
    });
    $("recordings-list").replaceChildren(...rows);
  }

  async play(session) {
    if (!window.AsciinemaPlayer) {
      this.status(_("The player is not installed here: run make ui."));
      return;
    }
    this.status(_("Loading the recording…"));
    try {
      this.cast = await fetchRecording(this.guest, session.session);
    } catch (error) {
      this.status(error instanceof ApiError ? error.reason : String(error));
      return;
    }
    this.typed = typedLines(typedEvents(this.cast));
    this.showTyped();
    this.create(0);
    const who = session.operator || "—";
    this.status(format(_("Playing the session of %(operator)s"), { operator: who }));
  }

  /** A player for the recording, from `startAt` seconds (the speed is fixed at creation). */
  create(startAt) {
    if (this.player) {
      this.player.dispose();
    }
    $("recording-player").replaceChildren();
    this.player = window.AsciinemaPlayer.create({ data: this.cast }, $("recording-player"), {
      autoPlay: true,
      controls: true, // play/pause and the timeline to seek on, not only while hovered
      startAt,
      speed: Number($("recording-speed").value),
      fit: "both", // within its box: the control bar stays in sight
      terminalFontFamily: FONT,
      markers: this.typed.map((event) => [event.time, visible(event.text)]),
    });
  }

  async restart() {
    if (this.player) {
      this.create(await this.player.getCurrentTime());
    }
  }

  showTyped() {
    const items = this.typed.map((event) => {
      const item = document.createElement("li");
      const seek = document.createElement("button");
      seek.type = "button";
      seek.className = "link";
      seek.textContent = clock(event.time);
      seek.addEventListener("click", () => this.player && this.player.seek(event.time));
      const text = document.createElement("code");
      text.textContent = visible(event.text);
      item.append(seek, " ", text);
      return item;
    });
    $("recording-typed").replaceChildren(...items);
    $("recording-no-input").hidden = items.length > 0;
    $("recording-side").hidden = false;
  }

  close() {
    if (this.player) {
      this.player.dispose();
      this.player = null;
    }
    document.body.classList.remove("showing-recordings");
    $("recordings-view").hidden = true;
    this.onClose();
  }

  status(text) {
    $("recordings-status").textContent = text;
  }
}
