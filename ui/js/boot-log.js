// The console page's part of the boot log: the guest list's Start (start the guest, then
// watch it boot) and the log's tail above what the console's capture replays.

import { ApiError, fetchLog, guestSessions, needsLogin, startGuest } from "./api.js";
import { askLogin } from "./login.js";

const ALREADY_RUNNING = "SCONS0049E";
const LOG_TAIL_BYTES = 64 * 1024; // of the log, shown above what the capture replays

/** Start the guest (once: `start` leaves the address, so a reload only reconnects). The
 * console then joins its capture, whose ring holds the boot from the first byte. `setState`
 * is the page's; `loginForm` is asked for a login when one is needed. True when running. */
export async function startGuestOnce(guest, { setState, loginForm }) {
  const next = new URLSearchParams(location.search);
  next.delete("start");
  history.replaceState(history.state, "", location.pathname + "?" + next.toString());
  setState("connecting");
  try {
    await startGuest(guest);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === ALREADY_RUNNING) {
      return true;
    }
    setState("disconnected", error instanceof ApiError ? error.reason : String(error));
    if (needsLogin(error)) {
      await askLogin(loginForm);
      return startGuestOnce(guest, { setState, loginForm });
    }
    return false;
  }
}

/** The scrollback starts with the log's tail: what the guest printed before the capture
 * that runs now began (its replay has the rest; a dim line then marks where it starts). */
export async function showEarlierLog(term, guest, device) {
  try {
    const sessions = await guestSessions(guest);
    const capture = sessions.find((s) => s.capture && (!device || s.device === device));
    if (!capture) {
      return;
    }
    const earlier = await fetchLog(guest, capture.device, {
      until: capture.since,
      tail: LOG_TAIL_BYTES,
    });
    await new Promise((resolve) => term.write(earlier, resolve));
  } catch {
    // no capture, no log, or not logged in yet: there is nothing earlier to show
  }
}
