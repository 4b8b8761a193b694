// The console page's mode: it writes to the console, or with `mode=view` in its address it
// only watches (the server drops a viewer's input, and the page sends none). A page opened
// to write on a guest where the operator lacks the `console` right reopens itself to watch;
// the same rights say whether it may take a busy console over.

import { guestRights } from "./api.js";

/** The page's address in the other mode (`view` or `write`), same guest, on `device`. */
export function modeHref(nextMode, device) {
  const next = new URLSearchParams(location.search);
  next.set("device", device);
  if (nextMode === "view") {
    next.set("mode", "view");
  } else {
    next.delete("mode");
  }
  return "console.html?" + next.toString();
}

/**
 * What the operator's rights on `guest` let a writing page do: `{reopened}` true when it
 * lacks the `console` right and the page is being reopened to watch `device`;
 * `mayTakeOver` whether it has the `takeover` right (true while unknown: the server decides).
 */
export async function checkWriteRights(guest, device) {
  const rights = await guestRights(guest);
  if (rights === null) {
    return { reopened: false, mayTakeOver: true }; // not logged in yet
  }
  if (!rights.includes("console")) {
    location.replace(modeHref("view", device));
    return { reopened: true, mayTakeOver: false };
  }
  return { reopened: false, mayTakeOver: rights.includes("takeover") };
}
