"""Guests for the libvirt test driver (``test:///path.xml``): many at once, for load."""

from __future__ import annotations

from pathlib import Path

DOMAIN = """  <domain type="test">
    <name>{name}</name>
    <uuid>5e7c0000-0000-4000-8000-{number:012d}</uuid>
    <memory unit="MiB">64</memory>
    <os><type>hvm</type></os>
    <devices><serial type="pty"><target port="0"/></serial></devices>
  </domain>
"""


def write_test_guests(directory: Path, count: int) -> tuple[Path, list[str]]:
    """A test-driver file of ``count`` running guests with one serial port each: its
    path (for ``--uri test://PATH``) and the guests' names."""
    names = [f"load-{number:04d}" for number in range(count)]
    domains = "".join(DOMAIN.format(name=name, number=n) for n, name in enumerate(names))
    path = directory / "guests.xml"
    path.write_text(f"<node>\n{domains}</node>\n")
    return path, names
