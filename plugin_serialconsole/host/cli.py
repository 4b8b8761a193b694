"""``serialconsole-host``: run the serial console plugin without another framework.

Settings come from the configuration file (``--config``, else
/etc/serialconsole/serialconsole.conf if it exists); each option given on the command
line overrides its key there (the options: ``host.options``). Then logging is set up,
the private run directory made, and the server runs until it stops.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from plugin_serialconsole.host import config as host_config
from plugin_serialconsole.host import logs
from plugin_serialconsole.host.fdlimit import raise_open_files_limit
from plugin_serialconsole.host.options import build_parser, overrides
from plugin_serialconsole.hypervisor_uris import SECTION as HYPERVISORS
from plugin_serialconsole.hypervisor_uris import redact_uri
from plugin_serialconsole.logfmt import configure_stderr
from plugin_serialconsole.rundir import prepare_run_dir

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_stderr(logging.WARNING)  # until [logging] is read: warnings about the file
    try:
        config = host_config.load(args.config, overrides(args))
        logs.configure(config["logging"])
        host_config.check_auth(config["server"])
        run_dir = Path(config["server"]["run_dir"])
        prepare_run_dir(run_dir)
    except host_config.ConfigError as error:
        parser.exit(2, f"{parser.prog}: configuration: {error}\n")
    except (OSError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: run directory: {error}\n")

    def announce(urls: list[str]) -> None:
        hypervisors = ", ".join(
            f"{name} {redact_uri(uri)}" for name, uri in config[HYPERVISORS].items()
        )
        print(f"serialconsole-host ready (libvirt: {hypervisors})", flush=True)
        for url in urls:
            print(f"  {url}", flush=True)

    from plugin_serialconsole.host.server import serve

    raise_open_files_limit()
    return serve(config, run_dir, announce)


if __name__ == "__main__":
    sys.exit(main())
