// Copy and paste with the keyboard: Ctrl+Shift+C / Ctrl+Insert copy the selection,
// Ctrl+Shift+V / Shift+Insert paste (the browser's own paste, which xterm.js receives).
// The context menu works through xterm.js itself: a right click puts its text area under
// the pointer, so the browser's Copy and Paste apply to the terminal.

/** Put `text` on the clipboard; resolves to true when it got there. */
export async function writeClipboard(text) {
  if (!text) {
    return false;
  }
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the copy command
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  return done;
}

/** The clipboard's text, or null when the browser won't tell (no permission, no API). */
export async function readClipboard() {
  if (!navigator.clipboard || !navigator.clipboard.readText) {
    return null;
  }
  try {
    return await navigator.clipboard.readText();
  } catch {
    return null;
  }
}

function isCopy(event, key) {
  return (
    (event.ctrlKey && event.shiftKey && key === "c") ||
    (event.ctrlKey && !event.shiftKey && key === "insert")
  );
}

function isPaste(event, key) {
  return (
    (event.ctrlKey && event.shiftKey && key === "v") ||
    (event.shiftKey && !event.ctrlKey && key === "insert")
  );
}

/**
 * Keys the page takes before the terminal: copy, paste, and `leave` (F6) to move focus
 * out of the terminal, which otherwise keeps Tab for the guest.
 */
export function installKeys(term, { leave }) {
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== "keydown") {
      return true;
    }
    const key = event.key.toLowerCase();
    if (isCopy(event, key)) {
      event.preventDefault();
      writeClipboard(term.getSelection());
      return false;
    }
    if (isPaste(event, key)) {
      return false; // not sent as a key: the browser pastes into xterm's text area
    }
    if (key === "f6" && !event.ctrlKey && !event.altKey && !event.shiftKey) {
      event.preventDefault();
      leave();
      return false;
    }
    return true;
  });
}
