// The console page's WebSocket connection to one guest console: binary frames both ways,
// output decoded as a UTF-8 stream (a character split across frames comes out whole), and
// the reason the server gave when it ended (its last line, "[serialconsole] <reason>
// (SCONS01xxL)"). The page connects only to URLs this host handed out: the answer to its
// own POST, or a `#ws=` link that `isHandedOut` accepts.

const FINAL_LINE = /\r\n\[serialconsole\] ([^\r\n]+) \((SCONS\d{4}L)\)\r\n$/;
const TAIL = 1024;
const SEND_CHUNK = 64 * 1024;
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** The server's closing reason at the end of `text`: {text, code} or null. */
export function finalReason(text) {
  const match = FINAL_LINE.exec(text);
  return match ? { text: match[1], code: match[2] } : null;
}

/**
 * True when `url` is one this host hands out: its `prefix` (console.json's ws_url_prefix,
 * the same for every console URL the host gives this client) followed by a token and
 * nothing else. Anything else, a `#ws=` link to another server above all, is refused.
 */
export function isHandedOut(url, prefix) {
  return (
    typeof url === "string" &&
    typeof prefix === "string" &&
    prefix !== "" &&
    url.startsWith(prefix) &&
    TOKEN.test(url.slice(prefix.length))
  );
}

/** `ws` from the fragment (then gone from the address bar), or null. Not yet trusted. */
export function takeFragmentUrl() {
  const url = new URLSearchParams(location.hash.slice(1)).get("ws");
  if (location.hash) {
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  return url || null;
}

export class ConsoleConnection {
  /**
   * @param {string} url a ws_url this host gave (authoritative: never rebuilt here)
   * @param {{open: Function, output: Function, closed: Function}} on callbacks
   */
  constructor(url, on) {
    this.on = on;
    this.decoder = new TextDecoder("utf-8");
    this.encoder = new TextEncoder();
    this.tail = "";
    this.ended = false;
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.on.open();
    this.socket.onmessage = (event) => this.received(event.data);
    this.socket.onclose = (event) => this.finish(event);
  }

  received(data) {
    const text =
      typeof data === "string"
        ? data
        : this.decoder.decode(new Uint8Array(data), { stream: true });
    if (text) {
      this.tail = (this.tail + text).slice(-TAIL);
      this.on.output(text);
    }
  }

  finish(event) {
    if (this.ended) {
      return;
    }
    this.ended = true;
    const rest = this.decoder.decode();
    if (rest) {
      this.tail = (this.tail + rest).slice(-TAIL);
      this.on.output(rest);
    }
    const reason = finalReason(this.tail);
    this.on.closed({
      reason: reason ? reason.text : event.reason || "",
      code: reason ? reason.code : "",
      wsCode: event.code,
    });
  }

  get open() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Send what the user typed or pasted (a string) as UTF-8, in binary frames of at most
   * 64 KiB: the proxy refuses a single message over 1 MiB, and a big paste must get through. */
  send(text) {
    if (this.open && text) {
      const bytes = this.encoder.encode(text);
      for (let at = 0; at < bytes.length; at += SEND_CHUNK) {
        this.socket.send(bytes.subarray(at, at + SEND_CHUNK));
      }
    }
  }

  /** Send raw bytes given as a "binary string" (xterm's onBinary: one char per byte). */
  sendBytes(binary) {
    if (this.open && binary) {
      this.socket.send(Uint8Array.from(binary, (ch) => ch.charCodeAt(0) & 0xff));
    }
  }

  close() {
    if (this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close();
    }
  }
}
