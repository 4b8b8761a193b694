"""The tiny test guest (``contrib/tinyguest/build-tinyguest``) as transient libvirt domains,
and a direct libvirt console stream to it — no plugin in between — for booting guests in
fixtures and as the baseline of ``bench/realguest_compare.py``."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

REPO = Path(__file__).resolve().parents[2]
BUILDER = REPO / "contrib" / "tinyguest" / "build-tinyguest"
BUILD_TIMEOUT = 900.0
BOOT_TIMEOUT = 90.0
BOOT_LINE = b"tinyguest: booted"
SINGLE = "tinyguest.xml"
DUAL = "tinyguest-dual.xml"
NAME_PREFIX = "sctest-"
_names = itertools.count(1)
_event_loop_lock = threading.Lock()
_event_loop: threading.Thread | None = None


def prompt(port: int = 0) -> bytes:
    """The shell prompt on the guest's serial port ``port``."""
    return f"ttyS{port}# ".encode()


def build(cache: Path | None = None) -> Path:
    """Build (or reuse) the tiny guest; its cache directory."""
    command = [str(BUILDER)] + ([str(cache)] if cache else [])
    done = subprocess.run(
        command, check=True, stdout=subprocess.PIPE, timeout=BUILD_TIMEOUT, text=True
    )
    return Path(done.stdout.strip().splitlines()[-1])


def ensure_event_loop() -> None:
    """libvirt's default event loop on a daemon thread; needed for stream callbacks.

    Register it before opening the connections whose streams need events.
    """
    global _event_loop
    with _event_loop_lock:
        if _event_loop is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        _event_loop = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _event_loop.start()


def connect(uri: str) -> libvirt.virConnect:
    ensure_event_loop()
    return libvirt.open(uri)


class DirectConsole:
    """A guest console read and written straight through a libvirt stream."""

    _EVENTS = (
        libvirt.VIR_STREAM_EVENT_READABLE
        | libvirt.VIR_STREAM_EVENT_ERROR
        | libvirt.VIR_STREAM_EVENT_HANGUP
    )

    def __init__(self, conn, domain, device: str | None = None, force: bool = False) -> None:
        self.buffer = bytearray()
        self.error: str | None = None
        self._changed = threading.Condition()
        self._writable = False
        self.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_SAFE
        if force:
            flags |= libvirt.VIR_DOMAIN_CONSOLE_FORCE
        domain.openConsole(device, self.stream, flags)
        self.stream.eventAddCallback(self._EVENTS, self._on_event, None)

    def _on_event(self, stream, events: int, _opaque) -> None:
        with self._changed:
            if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
                self._writable = True
                stream.eventUpdateCallback(self._EVENTS)
            if events & libvirt.VIR_STREAM_EVENT_READABLE:
                self._drain(stream)
            elif events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
                self._fail(stream, "stream error or hangup")
            if events & libvirt.VIR_STREAM_EVENT_WRITABLE or self.error or self._worth_waking():
                self._changed.notify_all()

    def _worth_waking(self) -> bool:
        """Whether new output should wake the reader (a subclass may wait for more)."""
        return True

    def _drain(self, stream) -> None:
        while True:
            try:
                data = stream.recv(64 * 1024)
            except libvirt.libvirtError as error:
                self._fail(stream, error.get_error_message())
                return
            if data == -2:
                return
            if not data:
                self._fail(stream, "end of stream")
                return
            self.buffer += data

    def _fail(self, stream, error: str) -> None:
        self.error = self.error or error
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventRemoveCallback()

    def send(self, data: bytes | str, timeout: float = 10.0) -> None:
        view = memoryview(data.encode() if isinstance(data, str) else data)
        deadline = time.monotonic() + timeout
        while view:
            sent = self.stream.send(bytes(view))
            if sent != -2:
                view = view[sent:]
                continue
            with self._changed:
                self._writable = False
                events = self._EVENTS | libvirt.VIR_STREAM_EVENT_WRITABLE
                self.stream.eventUpdateCallback(events)
                if not self._changed.wait_for(
                    lambda: self._writable or self.error, deadline - time.monotonic()
                ):
                    raise AssertionError(f"console not writable in {timeout} s")
            if self.error:
                raise AssertionError(f"console failed: {self.error}")

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """Bytes up to and including ``marker``; the rest stays buffered."""
        with self._changed:
            found = self._changed.wait_for(lambda: marker in self.buffer or self.error, timeout)
            at = self.buffer.find(marker)
            if at < 0:
                why = self.error if found else f"timed out after {timeout} s"
                raise AssertionError(f"{marker!r} not received ({why}): ...{self.tail()!r}")
            end = at + len(marker)
            data = bytes(self.buffer[:end])
            del self.buffer[:end]
            return data

    def wait_failed(self, timeout: float = 10.0) -> str:
        with self._changed:
            if not self._changed.wait_for(lambda: self.error, timeout):
                raise AssertionError(f"console still open after {timeout} s")
            return self.error

    def tail(self) -> bytes:
        return bytes(self.buffer[-300:])

    def close(self) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            self.stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            self.stream.abort()


class TinyGuest:
    """One transient domain of the tiny guest, with a unique name unless ``name`` is given
    (and a UUID libvirt picks unless ``uuid`` is): the same name or UUID on two daemons."""

    def __init__(
        self,
        uri: str,
        xml_path: Path,
        label: str = "guest",
        name: str | None = None,
        uuid: str | None = None,
    ) -> None:
        self.uri = uri
        tree = ET.parse(xml_path)
        self.name = name or f"{NAME_PREFIX}{os.getpid()}-{next(_names)}-{label}"
        tree.getroot().find("name").text = self.name
        if uuid is not None:
            ET.SubElement(tree.getroot(), "uuid").text = uuid
        self.xml = ET.tostring(tree.getroot(), encoding="unicode")
        self.conn = connect(uri)
        self.domain = None
        self.start_seconds = 0.0

    @property
    def uuid(self) -> str:
        return self.domain.UUIDString()

    def create(self, paused: bool = True) -> TinyGuest:
        flags = libvirt.VIR_DOMAIN_START_PAUSED if paused else 0
        started = time.monotonic()
        self.domain = self.conn.createXML(self.xml, flags)
        self.start_seconds = time.monotonic() - started
        return self

    def boot(self) -> TinyGuest:
        """Create, watch the boot on a direct console until the shell prompt, let go."""
        self.create(paused=True)
        console = DirectConsole(self.conn, self.domain)
        try:
            self.domain.resume()
            console.read_until(BOOT_LINE, BOOT_TIMEOUT)
            console.read_until(prompt(0), BOOT_TIMEOUT)
        finally:
            console.close()
        return self

    def direct_console(self, device: str | None = None, force: bool = False) -> DirectConsole:
        return DirectConsole(self.conn, self.domain, device, force)

    def reconnect(self) -> None:
        """A new connection (after a libvirtd restart), the same guest."""
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.close()
        self.conn = connect(self.uri)
        if self.domain is not None:
            self.domain = self.conn.lookupByName(self.name)

    def active(self) -> bool:
        conn = connect(self.uri)
        try:
            return bool(conn.lookupByName(self.name).isActive())
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False
            raise
        finally:
            conn.close()

    def destroy(self) -> None:
        """Gone for good (a transient domain is undefined by its destroy); no error if gone."""
        conn = connect(self.uri)  # a fresh one: the guest's may have died with libvirtd
        try:
            conn.lookupByName(self.name).destroy()
        except libvirt.libvirtError as error:
            if error.get_error_code() not in (
                libvirt.VIR_ERR_NO_DOMAIN,
                libvirt.VIR_ERR_OPERATION_INVALID,
            ):
                raise
        finally:
            conn.close()
            with contextlib.suppress(libvirt.libvirtError):
                self.conn.close()


def destroy_leftovers(uri: str) -> list[str]:
    """Destroy the test guests of this process that are still there; their names."""
    conn = connect(uri)
    mine = f"{NAME_PREFIX}{os.getpid()}-"
    gone = []
    try:
        for domain in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if domain.name().startswith(mine):
                with contextlib.suppress(libvirt.libvirtError):
                    domain.destroy()
                gone.append(domain.name())
    finally:
        conn.close()
    return gone
