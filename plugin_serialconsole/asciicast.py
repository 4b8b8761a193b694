"""asciicast v2 (the asciinema file format): a header line, then one JSON array per event,
``[<seconds since the start>, "o" | "i", "<text>"]``.

The format holds text, a guest prints bytes: they are decoded as UTF-8 across event
boundaries (a character split between two reads stays whole), and bytes that are not
UTF-8 become U+FFFD, as a terminal shows them. Valid UTF-8 output replays byte for byte.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from plugin_serialconsole.timedlog import INPUT, OUTPUT, Event

VERSION = 2
WIDTH = 80  # a serial console's usual size: the guest does not say its own
HEIGHT = 24
MEDIA_TYPE = "application/x-asciicast"


@dataclass(frozen=True)
class Header:
    start: float  # unix time event times count from
    title: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    def line(self) -> bytes:
        header = {
            "version": VERSION,
            "width": self.width,
            "height": self.height,
            "timestamp": int(self.start),
            "env": {"TERM": "xterm-256color"},
        }
        if self.title:
            header["title"] = self.title
        return _json_line(header)


def _json_line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def cast_lines(header: Header, events: Iterable[Event]) -> Iterator[bytes]:
    """The file, a line at a time: ``events`` (in time order) as asciicast events."""
    yield header.line()
    decoders = {kind: codecs.getincrementaldecoder("utf-8")("replace") for kind in (OUTPUT, INPUT)}
    last = 0.0
    for event in events:
        text = decoders[event.kind].decode(event.data)
        last = max(last, round(event.time - header.start, 3))
        if text:
            yield _json_line([last, event.kind, text])
    for kind, decoder in decoders.items():
        if text := decoder.decode(b"", final=True):
            yield _json_line([last, kind, text])
