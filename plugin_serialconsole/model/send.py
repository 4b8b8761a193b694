"""Sending to a guest what cannot be typed: SysRq, NMI, Ctrl+Alt+Del, Break, control keys.

SysRq and Ctrl+Alt+Del go through ``virDomainSendKey``, an NMI through
``virDomainInjectNMI``, both on the shared connection of the guest's hypervisor. A Break
goes through QEMU's ``chardev-send-break`` over the monitor passthrough
(``libvirt_qemu``), which libvirt records as tainting the domain: only where the config
allows it. A control key goes through the console itself (the console process writes it
to the guest), past the escape key, so it needs an open console.

A libvirt call waits on the hypervisor, which may hang (a stuck QEMU monitor): each runs
on that hypervisor's own ``HypervisorCalls``, and the request waits for it a bounded time,
so a REST thread is never held for longer than ``timeout``, and calls stuck on one
hypervisor never hold a send to a guest on another. The threads are daemons: one stuck
for good never keeps the host from exiting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import libvirt

from plugin_serialconsole import i18n
from plugin_serialconsole.errors import SerialConsoleError, not_found, not_running
from plugin_serialconsole.hookspecs import Identity
from plugin_serialconsole.hypervisor_uris import redact_message
from plugin_serialconsole.model.console_sessions import SessionManager
from plugin_serialconsole.model.guests import Guest
from plugin_serialconsole.model.hypervisor_calls import HypervisorCalls, NoAnswer
from plugin_serialconsole.sendkeys import (
    ACTIONS,
    BREAK,
    CONTROL,
    CONTROL_KEYS,
    CTRL_ALT_DEL,
    DESTRUCTIVE_SYSRQ,
    NMI,
    SYSRQ_KEYS,
    SendRequest,
)

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0
UNSUPPORTED = frozenset(
    {
        libvirt.VIR_ERR_NO_SUPPORT,
        libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
        libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
    }
)


class GuestSender:
    """Sends ``SendRequest``s to guests, each through its own hypervisor's connection.

    The test driver takes SendKey and InjectNMI and does nothing with them, and has no
    QEMU monitor: to a guest of a ``simulated`` hypervisor, what was sent also goes to the
    simulated guest through its console process (the guest's first console, its kernel's;
    a Break to the device it is for), which prints what a kernel would. With no console
    open, nobody sees it, as on a real guest."""

    def __init__(
        self,
        connection: Callable[[str], Any],
        sessions: SessionManager,
        allow_break: bool,
        timeout: float = SEND_TIMEOUT,
        simulated: Callable[[str], bool] = lambda _hypervisor: False,
        calls: Callable[[str], HypervisorCalls] | None = None,
        uris: Callable[[str], str] = lambda _hypervisor: "",
    ) -> None:
        self._connection = connection  # a hypervisor's name -> its live connection
        self.simulated = simulated
        self.sessions = sessions
        self.allow_break = allow_break
        self.timeout = timeout
        self._calls = calls or _own_calls()  # a hypervisor's name -> its calls
        self._uri = uris  # a hypervisor's name -> its URI, whose credentials are redacted

    def options(self) -> dict[str, Any]:
        """What may be sent (for the page's Send menu): actions, SysRq keys and names,
        the ones that need a confirmation, control keys."""
        actions = [action for action in ACTIONS if action != BREAK or self.allow_break]
        return {
            "actions": actions,
            "sysrq_keys": SYSRQ_KEYS,
            "destructive": sorted(DESTRUCTIVE_SYSRQ) + [NMI, CTRL_ALT_DEL],
            "control_keys": CONTROL_KEYS,
        }

    def send(self, guest: Guest, request: SendRequest, identity: Identity) -> dict[str, Any]:
        """Send ``request`` to ``guest`` for ``identity``; the answer says what was sent. A
        control key is typed into the console: only by the operator holding its writer's
        seat."""
        user = identity.user
        if not guest.running:
            raise not_running(guest.name, guest.state)
        device = guest.device(request.device) if request.action in (BREAK, CONTROL) else None
        if request.action == BREAK and not self.allow_break:
            raise SerialConsoleError(i18n.BREAK_DISABLED, 403)
        if request.action == CONTROL:
            if not self.sessions.deliver(guest, device.alias, request, writer=identity):
                raise SerialConsoleError(
                    i18n.CONTROL_KEY_NEEDS_SESSION, 409, guest=guest.name, device=device.alias
                )
        else:
            self._bounded(guest, request, device.alias if device else None)
        sent = request.describe()
        log.info(
            "%s",
            i18n.translate(i18n.SENT_TO_GUEST, {"user": user, "sent": sent, "guest": guest.name}),
        )
        answer: dict[str, Any] = {"guest": guest.name, **request.as_json(), "sent": sent}
        if device is not None:
            answer["device"] = device.alias
        return answer

    def _bounded(self, guest: Guest, request: SendRequest, alias: str | None) -> None:
        """Run the hypervisor call on the hypervisor's calls; wait for it at most
        ``timeout`` seconds."""
        try:
            self._calls(guest.hypervisor).answer(
                lambda: self._hypervisor(guest, request, alias), self.timeout
            )
        except NoAnswer:
            raise self._timed_out(guest, request) from None
        except libvirt.libvirtError as error:
            message = redact_message(error.get_error_message() or "", self._uri(guest.hypervisor))
            raise _failure(guest, request, error, message) from error

    def _timed_out(self, guest: Guest, request: SendRequest) -> SerialConsoleError:
        log.warning(
            "%s to guest %s: no answer within %ss", request.action, guest.name, self.timeout
        )
        return SerialConsoleError(
            i18n.SEND_TIMEOUT,
            504,
            seconds=f"{self.timeout:g}",
            sent=request.describe(),
            guest=guest.name,
        )

    def _hypervisor(self, guest: Guest, request: SendRequest, alias: str | None) -> None:
        if self.simulated(guest.hypervisor):
            self._simulate(guest, request, alias)
        else:
            self._libvirt(guest, request, alias)

    def _libvirt(self, guest: Guest, request: SendRequest, alias: str | None) -> None:
        domain = self._connection(guest.hypervisor).lookupByUUIDString(guest.uuid)
        if request.action == NMI:
            domain.injectNMI(0)
        elif request.action == BREAK:
            import libvirt_qemu  # only where a Break is sent: the QEMU driver's extension

            command = {"execute": "chardev-send-break", "arguments": {"id": f"char{alias}"}}
            libvirt_qemu.qemuMonitorCommand(
                domain, json.dumps(command), libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT
            )
        else:
            codes = request.keycodes()
            domain.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, codes, len(codes), 0)

    def _simulate(self, guest: Guest, request: SendRequest, alias: str | None) -> None:
        if request.action != BREAK:
            self._libvirt(guest, request, alias)
        if alias is None and not guest.consoles:
            return  # a kernel without a serial console prints where nobody reads
        self.sessions.deliver(guest, alias or guest.consoles[0].alias, request)


def _own_calls() -> Callable[[str], HypervisorCalls]:
    """Calls per hypervisor, made when first needed (for a sender without a fleet's)."""
    made: dict[str, HypervisorCalls] = {}

    def calls(hypervisor: str) -> HypervisorCalls:
        return made.setdefault(hypervisor, HypervisorCalls(hypervisor))

    return calls


def _failure(
    guest: Guest, request: SendRequest, error: libvirt.libvirtError, message: str
) -> SerialConsoleError:
    code = error.get_error_code()
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return not_found(guest.name)
    if code == libvirt.VIR_ERR_OPERATION_INVALID:
        return not_running(guest.name, message)
    params = {"guest": guest.name, "sent": request.describe(), "error": message}
    if code in UNSUPPORTED:
        return SerialConsoleError(i18n.SEND_UNSUPPORTED, 501, **params)
    return SerialConsoleError(i18n.SEND_FAILED, 502, **params)
