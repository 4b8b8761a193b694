"""Guests as the plugin sees them: name, UUID, state and console devices.

Read only through the host's shared libvirt connection. The mock model differs in one
place: when a simulated guest powers off, it is stopped in the test driver too.
"""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import libvirt

from plugin_serialconsole import i18n
from plugin_serialconsole.consoles import is_mock_uri
from plugin_serialconsole.errors import SerialConsoleError, not_found
from plugin_serialconsole.hypervisor_uris import DEFAULT_NAME, redact_message, redact_uri

STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "nostate",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}
# States in which a guest's console can be opened.
LIVE_STATES = frozenset({"running", "blocked", "paused"})


@dataclass(frozen=True)
class ConsoleDevice:
    alias: str
    type: str

    def as_json(self) -> dict[str, str]:
        return {"alias": self.alias, "type": self.type}


@dataclass(frozen=True)
class Guest:
    name: str
    uuid: str
    state: str
    consoles: tuple[ConsoleDevice, ...]
    hypervisor: str = DEFAULT_NAME  # the name of the hypervisor it runs on
    run_id: int = -1  # libvirt's domain ID: new for each start, -1 while shut off
    # when its hypervisor listed it, if that was before the request that shows it (seconds
    # since the epoch); None when read for this request
    listed_at: float | None = field(default=None, compare=False)

    @property
    def running(self) -> bool:
        return self.state in LIVE_STATES

    def device(self, alias: str | None) -> ConsoleDevice:
        """The console device ``alias``, or the guest's first one when None."""
        if not self.consoles:
            raise SerialConsoleError(i18n.NO_CONSOLE_DEVICE, 400, guest=self.name)
        if alias is None:
            return self.consoles[0]
        for console in self.consoles:
            if console.alias == alias:
                return console
        devices = ", ".join(c.alias for c in self.consoles)
        raise SerialConsoleError(
            i18n.NO_SUCH_DEVICE, 400, guest=self.name, device=alias, devices=devices
        )

    def as_json(self) -> dict[str, Any]:
        document = {
            "name": self.name,
            "uuid": self.uuid,
            "state": self.state,
            "consoles": [c.as_json() for c in self.consoles],
            "hypervisor": self.hypervisor,
        }
        if self.listed_at is not None:
            document["listed_at"] = iso_time(self.listed_at)
        return document


def iso_time(seconds: float) -> str:
    """``seconds`` since the epoch as an ISO time (UTC), as the API shows times."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def console_devices(domain_xml: str) -> tuple[ConsoleDevice, ...]:
    """Serial ports, then consoles, named by their alias or the way libvirt names them.

    A ``<console>`` whose target is a serial port that is also listed as a ``<serial>``
    is the same port (libvirt adds it for compatibility), so it is left out.
    """
    devices = ET.fromstring(domain_xml).find("devices")
    if devices is None:
        return ()
    found: list[ConsoleDevice] = []
    serial_ports = set()
    for index, serial in enumerate(devices.findall("serial")):
        found.append(ConsoleDevice(_alias(serial, f"serial{index}"), serial.get("type", "pty")))
        serial_ports.add(_target(serial).get("port", str(index)))
    for index, console in enumerate(devices.findall("console")):
        target = _target(console)
        if target.get("type", "serial") == "serial" and target.get("port", "0") in serial_ports:
            continue
        found.append(ConsoleDevice(_alias(console, f"console{index}"), console.get("type", "pty")))
    return tuple(found)


def _alias(element: ET.Element, default: str) -> str:
    alias = element.find("alias")
    return alias.get("name", default) if alias is not None else default


def _target(element: ET.Element) -> ET.Element:
    target = element.find("target")
    return target if target is not None else ET.Element("target")


def _is_uuid(text: str) -> bool:
    try:
        uuidlib.UUID(text)
    except ValueError:
        return False
    return True


class GuestModel(Protocol):
    """What the REST layer and the sessions need to know about guests."""

    def list(self) -> list[Guest]:
        """Every guest, running or not."""

    def lookup(self, ident: str) -> Guest:
        """The guest named ``ident``, or else with UUID ``ident``; 404 if none."""

    def guest_stopped(self, guest_uuid: str) -> None:
        """A console process saw its guest stop."""

    def start_paused(self, guest: Guest) -> Guest:
        """Start shut-off ``guest``, its CPUs paused; the guest as it is then."""

    def resume(self, guest: Guest) -> Guest:
        """Let paused ``guest`` run; the guest as it is then."""


class LibvirtGuests:
    """Guests read from the host's shared libvirt connection."""

    def __init__(
        self, uri: str, connection: Callable[[], Any], hypervisor: str = DEFAULT_NAME
    ) -> None:
        self.uri = uri
        self.hypervisor = hypervisor
        self._connection = connection

    def _conn(self):
        try:
            return self._connection()
        except libvirt.libvirtError as error:
            raise self._unavailable(error) from error

    def list(self) -> list[Guest]:
        guests = []
        try:
            domains = self._conn().listAllDomains()
        except libvirt.libvirtError as error:  # e.g. the hypervisor stopped answering
            raise self._unavailable(error) from error
        for domain in domains:
            try:
                guests.append(self._describe(domain))
            except libvirt.libvirtError as error:
                if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise self._unavailable(error) from error
                # a transient guest went away while we listed it
        return sorted(guests, key=lambda guest: guest.name)

    def lookup(self, ident: str) -> Guest:
        try:
            return self._describe(self._domain(ident))
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise not_found(ident) from error
            raise self._unavailable(error) from error

    def _domain(self, ident: str):
        conn = self._conn()
        if "\x00" in ident or len(ident.encode()) > 1024:
            raise not_found(ident)
        lookups = [conn.lookupByName] + ([conn.lookupByUUIDString] if _is_uuid(ident) else [])
        for lookup in lookups:
            try:
                return lookup(ident)
            except libvirt.libvirtError as error:
                if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise self._unavailable(error) from error
        raise not_found(ident)

    def _unavailable(self, error: libvirt.libvirtError) -> SerialConsoleError:
        return SerialConsoleError(
            i18n.CONNECTION_UNAVAILABLE,
            503,
            uri=redact_uri(self.uri),
            error=redact_message(error.get_error_message() or "", self.uri),
        )

    def _describe(self, domain) -> Guest:
        state = STATE_NAMES.get(domain.state()[0], "unknown")
        devices = console_devices(domain.XMLDesc())
        return Guest(
            domain.name(), domain.UUIDString(), state, devices, self.hypervisor, domain.ID()
        )

    def guest_stopped(self, guest_uuid: str) -> None:
        """Nothing to do: libvirt already knows."""

    def start_paused(self, guest: Guest) -> Guest:
        return self._power(guest, lambda d: d.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED))

    def resume(self, guest: Guest) -> Guest:
        return self._power(guest, lambda d: d.resume())

    def _power(self, guest: Guest, change: Callable[[Any], object]) -> Guest:
        domain = self._domain(guest.uuid)
        try:
            change(domain)
            return self._describe(domain)
        except libvirt.libvirtError as error:
            message = redact_message(error.get_error_message() or "", self.uri)
            raise SerialConsoleError(
                i18n.START_FAILED, 409, guest=guest.name, error=message
            ) from error


class MockGuests(LibvirtGuests):
    """Guests of the libvirt test driver, whose consoles are simulated."""

    def start_paused(self, guest: Guest) -> Guest:
        """The test driver has no START_PAUSED: start, then pause."""

        def start_then_pause(domain) -> None:
            domain.create()
            domain.suspend()

        return self._power(guest, start_then_pause)

    def guest_stopped(self, guest_uuid: str) -> None:
        try:
            domain = self._conn().lookupByUUIDString(guest_uuid)
            if domain.isActive():
                domain.destroy()
        except libvirt.libvirtError:
            pass


def make_guest_model(
    uri: str, connection: Callable[[], Any], hypervisor: str = DEFAULT_NAME
) -> GuestModel:
    model = MockGuests if is_mock_uri(uri) else LibvirtGuests
    return model(uri, connection, hypervisor)
