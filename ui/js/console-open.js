// Opening the console through the REST API (POST …/serial). With a login session the host
// knows this page's own previous session (before a reload or a Reconnect) by its login and
// reattaches at once. Without one (`--auth none`) the console may still be "in use" by that
// session, which takes a moment to end: for that long the page asks again.

import { ApiError, openConsole } from "./api.js";

export const IN_USE = "SCONS0003E";
const IN_USE_RETRY_MS = 3000;
const IN_USE_PAUSE_MS = 250;

/** The POST answer for `guest`'s `device` (see api.js's openConsole for `options`). */
export async function requestConsole(guest, device, options) {
  const started = performance.now();
  for (;;) {
    try {
      return await openConsole(guest, device, options);
    } catch (error) {
      const retry =
        error instanceof ApiError &&
        error.code === IN_USE &&
        performance.now() - started < IN_USE_RETRY_MS;
      if (!retry) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, IN_USE_PAUSE_MS));
    }
  }
}
