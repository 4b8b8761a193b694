// The console page's Send menu: SysRq keys, NMI, Ctrl+Alt+Del, Break and any control key,
// sent through POST vms/<guest>/send. A menu button (WAI-ARIA menu pattern): Enter, Space
// or Arrow Down open it, arrow keys, Home and End move, Escape and Tab close it. What
// cannot be taken back (crash, reboot, power off, NMI, ...) is confirmed first in a dialog
// whose Cancel has the focus; "Control key…" picks the key in the same dialog.

import { ApiError, sendToGuest, sendOptions } from "./api.js";
import { guestLabel } from "./guest-ref.js";
import { _, format } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/** The SysRq keys the menu offers, with their labels (the kernel's names, translated). */
function sysrqItems() {
  return [
    ["h", _("SysRq: help (h)")],
    ["s", _("SysRq: sync file systems (s)")],
    ["t", _("SysRq: show tasks (t)")],
    ["m", _("SysRq: show memory (m)")],
    ["w", _("SysRq: show blocked tasks (w)")],
    ["u", _("SysRq: remount read-only (u)")],
    ["e", _("SysRq: terminate all tasks (e)…")],
    ["i", _("SysRq: kill all tasks (i)…")],
    ["b", _("SysRq: reboot (b)…")],
    ["c", _("SysRq: crash (c)…")],
    ["o", _("SysRq: power off (o)…")],
  ].map(([key, label]) => ({ body: { action: "sysrq", key }, label }));
}

function otherItems() {
  return [
    { body: { action: "nmi" }, label: _("NMI (non-maskable interrupt)…") },
    { body: { action: "ctrl-alt-del" }, label: _("Ctrl+Alt+Del…") },
    { body: { action: "break" }, label: _("Break (serial line)"), perDevice: true },
    { body: { action: "control" }, label: _("Control key…"), perDevice: true, pickKey: true },
  ];
}

export class SendMenu {
  /**
   * `guest`: the guest (guest-ref.js); `device()`: the console device now; `report(text)`: show
   * what happened in the status bar.
   */
  constructor(guest, device, report) {
    this.guest = guest;
    this.device = device;
    this.report = report;
    this.button = $("send");
    this.list = $("send-items");
    this.dialog = $("send-dialog");
    this.items = [];
  }

  async install() {
    let options;
    try {
      options = await sendOptions(this.guest);
    } catch {
      return; // no guest, no login yet: no menu
    }
    this.destructive = new Set(options.destructive);
    this.controlKeys = options.control_keys;
    const offered = new Set(options.actions);
    const entries = [...sysrqItems(), ...otherItems()].filter(
      (entry) =>
        offered.has(entry.body.action) &&
        (entry.body.action !== "sysrq" || entry.body.key in options.sysrq_keys),
    );
    for (const entry of entries) {
      const item = document.createElement("button");
      item.type = "button";
      item.setAttribute("role", "menuitem");
      item.tabIndex = -1;
      item.textContent = entry.label;
      item.dataset.action = entry.body.action;
      if (entry.body.key) {
        item.dataset.key = entry.body.key;
      }
      item.addEventListener("click", () => this.choose(entry));
      const row = document.createElement("li");
      row.setAttribute("role", "none");
      row.append(item);
      this.list.append(row);
      this.items.push(item);
    }
    if (this.items.length === 0) {
      return; // nothing this operator may send: no menu
    }
    this.fillControlKeys();
    this.button.addEventListener("click", () => (this.isOpen() ? this.close() : this.open(0)));
    this.button.addEventListener("keydown", (event) => this.buttonKey(event));
    this.list.addEventListener("keydown", (event) => this.menuKey(event));
    this.list.addEventListener("focusout", (event) => {
      if (!this.list.contains(event.relatedTarget) && event.relatedTarget !== this.button) {
        this.close(false);
      }
    });
    $("send-area").hidden = false;
  }

  fillControlKeys() {
    const select = $("control-key");
    for (const key of this.controlKeys) {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = "Ctrl+" + key;
      select.append(option);
    }
    select.value = "Q";
  }

  isOpen() {
    return !this.list.hidden;
  }

  open(index) {
    this.list.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.focusItem(index);
  }

  close(refocus = true) {
    this.list.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (refocus) {
      this.button.focus();
    }
  }

  focusItem(index) {
    const count = this.items.length;
    this.items[((index % count) + count) % count].focus();
  }

  buttonKey(event) {
    if (["Enter", " ", "ArrowDown"].includes(event.key)) {
      event.preventDefault();
      this.open(0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.open(-1);
    }
  }

  menuKey(event) {
    const at = this.items.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: -1 };
    if (event.key in moves) {
      event.preventDefault();
      this.focusItem(moves[event.key]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    } else if (event.key === "Tab") {
      this.close(false);
    }
  }

  /** An item was chosen: send it, after the dialog where one is due. */
  async choose(entry) {
    this.close();
    const body = { ...entry.body };
    if (entry.perDevice) {
      body.device = this.device();
    }
    const key = body.action === "sysrq" ? body.key : body.action;
    if (entry.pickKey || this.destructive.has(key)) {
      const confirmed = await this.confirm(entry, body);
      if (!confirmed) {
        this.report(_("Nothing was sent."));
        return;
      }
    }
    try {
      const answer = await sendToGuest(this.guest, body);
      this.report(format(_("Sent to the guest: %(sent)s"), { sent: answer.sent }));
    } catch (error) {
      this.report(error instanceof ApiError ? error.reason : String(error));
    }
  }

  /** The dialog: true when the operator confirms; picks the control key for that item. */
  confirm(entry, body) {
    const picking = Boolean(entry.pickKey);
    $("control-key-field").hidden = !picking;
    $("send-dialog-text").textContent = picking
      ? format(_("Send a control key to guest %(guest)s, literally (even the escape key):"), {
          guest: guestLabel(this.guest),
        })
      : format(_("Send %(what)s to guest %(guest)s? This may stop or restart it."), {
          what: entry.label.replace(/…$/, ""),
          guest: guestLabel(this.guest),
        });
    this.dialog.returnValue = "";
    return new Promise((resolve) => {
      this.dialog.addEventListener(
        "close",
        () => {
          if (picking) {
            body.key = $("control-key").value;
          }
          this.button.focus();
          resolve(this.dialog.returnValue === "send");
        },
        { once: true },
      );
      this.dialog.showModal();
      (picking ? $("control-key") : $("send-dialog-cancel")).focus();
    });
  }
}
