// The console page's Download: the console's transcript, saved as a file by the browser.

import { ApiError, fetchTranscript } from "./api.js";
import { _, format } from "./i18n.js";

/** Save the transcript of `guest`'s `device`; `report` shows why there is none. */
export async function downloadTranscript(guest, device, report) {
  try {
    const { blob, name } = await fetchTranscript(guest, device);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (error) {
    const reason = error instanceof ApiError ? error.reason : String(error);
    report(format(_("No transcript: %(reason)s"), { reason }));
  }
}
