"""What every part of the plugin knows about consoles, with no dependency on any part:
the modes a console's client may have, and which libvirt URIs get the simulated console.

The REST layer, the session bookkeeping and the console process all speak these words;
none of them has to import another's module (or the console pipe's protocol) for them.
"""

from __future__ import annotations

# What a client of a console may do.
WRITE = "write"  # input reaches the guest; holds the output back while it is behind
VIEW = "view"  # output only; input other than Ctrl+Q is dropped
TRANSCRIPT = "transcript"  # the recent output once, then the socket closes (for the host)
MODES = (WRITE, VIEW, TRANSCRIPT)
CLIENT_MODES = (WRITE, VIEW)  # the modes a console can be opened in


def is_mock_uri(uri: str) -> bool:
    """True for libvirt test-driver URIs, whose guests get the simulated console."""
    driver = uri.split(":", 1)[0].split("+", 1)[0]
    return driver == "test"
