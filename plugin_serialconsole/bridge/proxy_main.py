"""Entry point of the websockify process: ``python -m plugin_serialconsole.bridge.proxy_main``.

websockify imports numpy, when it can, only to unmask client frames. A console's frames are
keystrokes and pastes (at most ``handler.MAX_MESSAGE``), which ``BoundedWebSocket``
unmasks as fast without it, while numpy would add ~15 MB to the proxy's resident memory.
So the proxy runs without numpy even where it is installed (it is a dependency of
websockify's package).
"""

from __future__ import annotations

import sys
import warnings


def main(argv: list[str] | None = None) -> int:
    sys.modules.setdefault("numpy", None)  # ``import numpy`` now raises ImportError
    warnings.filterwarnings("ignore", message="no 'numpy' module", category=UserWarning)
    from plugin_serialconsole.bridge import proxy

    return proxy.main(argv)


if __name__ == "__main__":
    sys.exit(main())
