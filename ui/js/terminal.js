// The console page's terminal: xterm.js with the fonts of the page's language, Unicode 11
// widths for wide characters, fitted to its box; and its font size, which the page keeps
// across visits (localStorage).

import { installKeys } from "./clipboard.js";
import { currentLanguage } from "./i18n.js";
import { terminalFontFamily } from "./terminal-fonts.js";

const FONT_KEY = "serialconsole.fontSize";
export const FONT_SIZES = { min: 8, max: 32, default: 15 };

/** The font size kept from the last visit (within bounds), or the default. */
export function storedFontSize() {
  const stored = Number.parseInt(localStorage.getItem(FONT_KEY) || "", 10);
  return Number.isFinite(stored)
    ? Math.min(FONT_SIZES.max, Math.max(FONT_SIZES.min, stored))
    : FONT_SIZES.default;
}

/** Set `term`'s font size (within bounds) and keep it for the next visit; the size set. */
export function changeFontSize(term, size) {
  const value = Math.min(FONT_SIZES.max, Math.max(FONT_SIZES.min, size));
  term.options.fontSize = value;
  localStorage.setItem(FONT_KEY, String(value));
  return value;
}

/** A terminal in `container`, refitted whenever the box changes size. `onData` and
 * `onBinary` get what the operator types; `leave` moves the focus out of it (F6). */
export function createTerminal(container, { onData, onBinary, leave }) {
  const term = new window.Terminal({
    fontFamily: terminalFontFamily(currentLanguage()),
    fontSize: storedFontSize(),
    scrollback: 10000,
    cursorBlink: false,
    // term.unicode, which the Unicode 11 widths need, is still a proposed API.
    allowProposedApi: true,
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  // Wide characters (CJK, Hangul, emoji) take two cells, as the guest's own terminal counts.
  term.loadAddon(new window.Unicode11Addon.Unicode11Addon());
  term.unicode.activeVersion = "11";
  term.open(container);
  term.onData(onData);
  term.onBinary(onBinary);
  installKeys(term, { leave });
  new ResizeObserver(() => fit.fit()).observe(container);
  fit.fit();
  return { term, fit };
}
