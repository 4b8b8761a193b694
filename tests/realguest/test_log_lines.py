"""A guest name from a request cannot forge lines in the host's log, on QEMU too.

libvirt's QEMU driver names the guest it did not find in its error ("no domain with
matching name '...'"), and libvirt prints its errors on stderr unless told otherwise."""

from __future__ import annotations

import re
from urllib.parse import quote

FORGED = "SCONS forged"
# a record starts with the time; a traceback's lines are indented
RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} |  ")


def test_lookup_of_a_name_with_a_newline_cannot_forge_a_log_line(host):
    missing = host.get("vms/" + quote(f"evil\n{FORGED}", safe=""))
    assert missing.status_code == 404, missing.text
    log = host.log_path.read_text()
    strays = [line for line in log.split("\n")[:-1] if not RECORD.match(line)]
    assert not strays, "lines that are no record of the host's own"
