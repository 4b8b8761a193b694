"""A simulated guest serial console for the mock model: a tiny line shell, never a real one.

It is the guest's tty: it echoes what is typed (Enter arrives as ``\\r`` and is answered
with ``\\r\\n``), edits the line, keeps what is typed while a command runs, and feeds
``sha256sum`` what is typed until Ctrl+D (as a tty that turns ``\\r`` into ``\\n``). What a
command line does is the shell's (``simulated_shell``). A simulated guest that is
captured (``boot``) prints a short simulated boot first; guest ``FAILING_GUEST``'s boot
fails and ends in an emergency shell. Output is produced lazily as the reader asks for
it. What the hypervisor sends it (SysRq, NMI, Ctrl+Alt+Del, Break) its kernel answers
the way Linux does (``simulated_kernel``).
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import re
import time
from collections import deque
from collections.abc import Iterator

from plugin_serialconsole.console import simulated_kernel as kernel
from plugin_serialconsole.console import simulated_shell as shell
from plugin_serialconsole.console.simulated_shell import CHUNK
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.sendkeys import SYSRQ, SYSRQ_KEYS, SendRequest

PROMPT = b"# "
EMERGENCY_PROMPT = b"(emergency) # "
FAILING_GUEST = "mock-broken"  # the mock guest whose simulated boot fails
BOOT = (
    b"[    0.000000] Linux version 6.1.0-simulated (serialconsole mock) #1 SMP\r\n"
    b"[    0.000000] Command line: console=ttyS0\r\n"
    b"[    0.201337] Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled\r\n"
    b"[    0.402718] Run /init as init process\r\n"
)
BOOTED = b"simulated guest: booted\r\n"
FAILED_BOOT = (
    b'[    1.024000] VFS: Cannot open root device "vda1": error -6\r\n'
    b"[FAILED] Failed to mount /sysroot.\r\n"
    b'You are in emergency mode. After logging in, type "journalctl -xb" to view\r\n'
    b'system logs, "systemctl reboot" to reboot, "systemctl default" or "exit"\r\n'
    b"to boot into default mode.\r\n"
)
CTRL_C = "\x03"
CTRL_D = "\x04"
NOT_PLAIN_INPUT = re.compile("[\x03\x04\x1b]")
# What the line editor takes as typed text (echoed, added to the line): printables and tab,
# written as "no other control character" (a class up to U+10FFFF takes 4 ms to compile).
TYPED_TEXT = re.compile("[^\x00-\x08\x0a-\x1f\x7f]+")
BACKSPACES = ("\x7f", "\x08")
TYPEAHEAD_LIMIT = 64 * 1024


class SimulatedConsole:
    """The console of a simulated guest named ``guest_name``."""

    def __init__(self, guest_name: str, boot: bool = False) -> None:
        self.guest_name = guest_name
        self.failed_boot = boot and guest_name == FAILING_GUEST
        self.prompt = EMERGENCY_PROMPT if self.failed_boot else PROMPT
        self.powered_off = False
        self.end_reason: tuple[Reason, dict] | None = None
        self.on_reboot = None  # a simulated guest does not reboot
        self.waits_for_reader = True  # its output is made as it is read
        self._pending: deque[bytes] = deque()
        self._running: Iterator[bytes] | None = None
        self._line: list[str] = []
        self._typeahead: deque[str] = deque()
        self._hashing: hashlib._Hash | None = None
        self._escape = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._readable = asyncio.Event()
        self._booted = time.monotonic()
        self._hung = False  # after a kernel panic: no more input or output
        self._sysrq_until = 0.0  # after a Break: the next key is a SysRq key until then
        self._boot(boot)

    def _boot(self, boot: bool = False) -> None:
        """The console's greeting; ``boot``: after the simulated kernel's boot lines."""
        self._booted = time.monotonic()
        if boot:
            self._emit(BOOT + (FAILED_BOOT if self.failed_boot else BOOTED))
        self._emit(
            f"\r\nSimulated serial console of guest {self.guest_name}. Type 'help'.\r\n".encode()
        )
        self._emit(self.prompt)

    def _emit(self, data: bytes) -> None:
        self._pending.append(data)
        self._readable.set()

    async def read(self) -> bytes:
        """Next output; b'' once the guest has powered off and all output was read."""
        while True:
            if self._pending:
                return self._take_pending()
            if self._running is not None:
                chunk = next(self._running, None)
                if chunk is not None:
                    return chunk
                self._running = None
                self._emit(self.prompt)
                self._replay_typeahead()
                continue
            if self.powered_off:
                return b""
            self._readable.clear()
            await self._readable.wait()

    def _take_pending(self) -> bytes:
        out = bytearray()
        while self._pending and len(out) < CHUNK:
            out += self._pending.popleft()
        return bytes(out)

    async def write(self, data: bytes) -> None:
        if self.powered_off or self._hung:
            return
        text = self._decoder.decode(data)
        at = 0
        if text and self._sysrq_until:
            at = self._break_key(text)
            if self.powered_off or self._hung:
                return
        while at < len(text):
            if self._hashing is not None and not self._escape:
                at = self._hash_plain_input(text, at)
            elif self._running is None and self._hashing is None and not self._escape:
                at = self._type_text(text, at)
            if at < len(text):
                self._key(text[at])
                at += 1

    def _type_text(self, text: str, start: int) -> int:
        """Add the run of typed text from ``start`` to the line and echo it, all at once."""
        typed = TYPED_TEXT.match(text, start)
        if typed is None:
            return start
        self._line.extend(typed.group())
        self._emit(typed.group().encode())
        return typed.end()

    def _hash_plain_input(self, text: str, start: int) -> int:
        """Feed ``sha256sum`` the run of ordinary input from ``start``, all at once."""
        special = NOT_PLAIN_INPUT.search(text, start)
        end = special.start() if special else len(text)
        plain = text[start:end].replace("\r", "\n")
        self._hashing.update(plain.encode())
        self._emit(plain.replace("\n", "\r\n").encode())
        return end

    def close(self) -> None:
        self._readable.set()

    def signal(self, request: SendRequest) -> None:
        """The hypervisor sent ``request``: print what the kernel would, then do it."""
        if self.powered_off or self._hung:
            return
        answer = kernel.answer(request)
        if answer.lines:
            self._emit(kernel.printk(answer.lines, time.monotonic() - self._booted))
        if answer.then == kernel.REBOOT:
            self._reset()
            self._boot()
        elif answer.then == kernel.POWER_OFF:
            self.powered_off = True
            self.end_reason = (Reason.GUEST_STOPPED, {})
        elif answer.then == kernel.HANG:
            self._reset()
            self._hung = True
        elif answer.then == kernel.SYSRQ_WAIT:
            self._sysrq_until = time.monotonic() + kernel.BREAK_SYSRQ_WINDOW

    def _break_key(self, text: str) -> int:
        """After a Break the serial driver takes the next key, within its window, as a
        SysRq key and passes it no further; return where the rest of ``text`` starts."""
        until, self._sysrq_until = self._sysrq_until, 0.0
        if time.monotonic() > until:
            return 0
        key = text[0] if text[0] in SYSRQ_KEYS else "h"
        self.signal(SendRequest(SYSRQ, key))
        return 1

    def _reset(self) -> None:
        self._running = None
        self._hashing = None
        self._typeahead.clear()
        self._line.clear()
        self._escape = ""

    def _key(self, char: str) -> None:
        if self._escape or char == "\x1b":
            self._skip_escape_sequence(char)
        elif char == CTRL_C:
            self._interrupt()
        elif self._hashing is not None:
            self._hash_key(char)
        elif self._running is not None:
            if len(self._typeahead) < TYPEAHEAD_LIMIT:
                self._typeahead.append(char)  # like a tty: read once the command is done
        elif char in ("\r", "\n"):
            self._emit(b"\r\n")
            self._run(self._take_line())
        elif char in BACKSPACES:
            if self._line:
                self._line.pop()
                self._emit(b"\b \b")
        elif char >= " " or char == "\t":
            self._line.append(char)
            self._emit(char.encode())
        elif char != CTRL_D:  # another control key: echoed as ^X, as a tty with echoctl
            self._emit(f"^{chr(ord(char) + 64)}".encode())

    def _skip_escape_sequence(self, char: str) -> None:
        """Arrow keys and friends (ESC [ ... final, ESC O x) are ignored, not echoed."""
        self._escape += char
        if len(self._escape) < 2:
            return
        introducer = self._escape[1]
        if introducer == "[":
            done = len(self._escape) > 2 and (char.isalpha() or char == "~")
        elif introducer == "O":
            done = len(self._escape) == 3
        else:
            done = True
        if done:
            self._escape = ""

    def _replay_typeahead(self) -> None:
        while self._typeahead and self._running is None and not self.powered_off:
            self._key(self._typeahead.popleft())

    def _hash_key(self, char: str) -> None:
        if char != CTRL_D:
            self._hash_plain_input(char, 0)
            return
        digest, self._hashing = self._hashing.hexdigest(), None
        self._reply(f"{digest}  -")

    def _interrupt(self) -> None:
        self._running = None
        self._hashing = None
        self._typeahead.clear()
        self._line.clear()
        self._emit(b"^C\r\n" + self.prompt)

    def _take_line(self) -> str:
        line = "".join(self._line)
        self._line.clear()
        return line

    def _run(self, line: str) -> None:
        command = shell.run(line)
        if command.powers_off:
            self._power_off()
        elif command.hashes_input:
            self._hashing = hashlib.sha256()
        elif command.output is not None:
            self._running = command.output
        elif command.reply is not None:
            self._reply(command.reply)
        else:
            self._emit(self.prompt)

    def _reply(self, text: str) -> None:
        self._emit(text.encode() + b"\r\n" + self.prompt)

    def _power_off(self) -> None:
        self._emit(b"reboot: Power down\r\n")
        self.powered_off = True
        self.end_reason = (Reason.GUEST_STOPPED, {})
