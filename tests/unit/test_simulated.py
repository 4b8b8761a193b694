"""The simulated guest console: a tiny line shell driven through async read()/write()."""

from __future__ import annotations

import asyncio
import hashlib
import random

import pytest

from plugin_serialconsole.console.simulated import SimulatedConsole
from plugin_serialconsole.console.simulated_shell import CHUNK, seq_output
from plugin_serialconsole.consoles import Reason
from plugin_serialconsole.sendkeys import SendRequest

TIMEOUT = 5.0
PROMPT = b"# "


def seq_bytes(last: int) -> bytes:
    return "".join(f"{n}\r\n" for n in range(1, last + 1)).encode()


async def read_until(console: SimulatedConsole, marker: bytes, timeout: float = TIMEOUT) -> bytes:
    """Read until ``marker`` has appeared (or EOF); fail instead of hanging."""

    async def collect() -> bytes:
        data = bytearray()
        while marker not in data:
            chunk = await console.read()
            if not chunk:
                break
            data += chunk
        return bytes(data)

    return await asyncio.wait_for(collect(), timeout)


async def read_to_eof(console: SimulatedConsole, timeout: float = TIMEOUT) -> bytes:
    async def collect() -> bytes:
        data = bytearray()
        while chunk := await console.read():
            data += chunk
        return bytes(data)

    return await asyncio.wait_for(collect(), timeout)


async def booted(name: str = "mock-vm") -> SimulatedConsole:
    """A console whose banner and first prompt have been read."""
    console = SimulatedConsole(name)
    await read_until(console, PROMPT)
    return console


async def run_line(console: SimulatedConsole, line: bytes) -> bytes:
    """Type ``line`` + Enter; everything up to the next prompt (echo included)."""
    await console.write(line + b"\r")
    return await read_until(console, b"\r\n" + PROMPT)


def test_banner_names_guest_and_ends_with_prompt():
    async def scenario():
        return await read_until(SimulatedConsole("my-guest"), PROMPT)

    banner = asyncio.run(scenario())
    assert b"my-guest" in banner
    assert banner.endswith(b"\r\n# ")


def test_typed_characters_are_echoed():
    async def scenario():
        console = await booted()
        await console.write(b"abc")
        return await asyncio.wait_for(console.read(), TIMEOUT)

    assert asyncio.run(scenario()) == b"abc"


def test_enter_is_answered_with_crlf_and_prompt():
    async def scenario():
        console = await booted()
        await console.write(b"\r")
        return await read_until(console, PROMPT)

    assert asyncio.run(scenario()) == b"\r\n# "


def test_echo_joins_shell_words():
    async def scenario():
        return await run_line(await booted(), b'echo a "b c"')

    assert asyncio.run(scenario()) == b'echo a "b c"\r\na b c\r\n# '


def test_seq_5_is_byte_exact():
    async def scenario():
        return await run_line(await booted(), b"seq 5")

    assert asyncio.run(scenario()) == b"seq 5\r\n1\r\n2\r\n3\r\n4\r\n5\r\n# "


def test_seq_100000_is_complete_and_in_order_chunk_by_chunk():
    async def scenario():
        console = await booted()
        await console.write(b"seq 100000\r")
        chunks = []
        while not (chunks and chunks[-1].endswith(PROMPT)):
            chunks.append(await asyncio.wait_for(console.read(), TIMEOUT))
            assert chunks[-1], "EOF during seq"
        return chunks

    chunks = asyncio.run(scenario())
    assert len(chunks) > 2
    assert b"".join(chunks) == b"seq 100000\r\n" + seq_bytes(100000) + PROMPT


@pytest.mark.parametrize(
    "last", [0, 1, 999, 1000, 1001, 1999, 2000, 9999, 10000, 10001, 1000999, 1001000, 1001001]
)
def test_seq_output_is_exact_across_block_edges(last):
    chunks = list(seq_output(last))
    assert b"".join(chunks) == seq_bytes(last)
    assert all(0 < len(chunk) <= CHUNK for chunk in chunks)


def test_unknown_command_is_not_found():
    async def scenario():
        return await run_line(await booted(), b"frobnicate now")

    assert asyncio.run(scenario()) == b"frobnicate now\r\nsh: frobnicate: not found\r\n# "


def test_help_lists_commands():
    async def scenario():
        return await run_line(await booted(), b"help")

    output = asyncio.run(scenario())
    for command in (b"echo", b"seq", b"poweroff"):
        assert command in output


def test_backspace_edits_the_line():
    async def scenario():
        return await run_line(await booted(), b"echx\x7fo hq\x08i")

    output = asyncio.run(scenario())
    assert output == b"echx\b \bo hq\b \bi\r\nhi\r\n# "


def test_backspace_on_empty_line_echoes_nothing():
    async def scenario():
        console = await booted()
        await console.write(b"\x7f\x7fx")
        return await asyncio.wait_for(console.read(), TIMEOUT)

    assert asyncio.run(scenario()) == b"x"


def test_arrow_key_sequences_are_not_echoed_nor_executed():
    async def scenario():
        return await run_line(await booted(), b"echo \x1b[Ax\x1b[D\x1b[B\x1b[3~y\x1b[C")

    assert asyncio.run(scenario()) == b"echo xy\r\nxy\r\n# "


def test_arrow_key_split_across_writes_is_not_echoed():
    async def scenario():
        console = await booted()
        await console.write(b"a\x1b")
        await console.write(b"[")
        await console.write(b"Ab\r")
        return await read_until(console, b"\r\n" + PROMPT)

    assert asyncio.run(scenario()) == b"ab\r\nsh: ab: not found\r\n# "


def test_ctrl_c_interrupts_running_seq():
    async def scenario():
        console = await booted()
        await console.write(b"seq 10000000\r")
        first = await read_until(console, b"\r\n5\r\n")
        await console.write(b"\x03")
        rest = await read_until(console, b"^C\r\n# ")
        after = await run_line(console, b"echo alive")
        return first + rest, after

    output, after = asyncio.run(scenario())
    assert output.endswith(b"^C\r\n# ")
    assert b"\r\n10000000\r\n" not in output
    assert len(output) < 1_000_000
    assert after == b"echo alive\r\nalive\r\n# "


def test_ctrl_c_discards_line_being_typed():
    async def scenario():
        console = await booted()
        await console.write(b"echo lost\x03")
        interrupted = await read_until(console, b"^C\r\n# ")
        return interrupted, await run_line(console, b"echo kept")

    interrupted, after = asyncio.run(scenario())
    assert interrupted == b"echo lost^C\r\n# "
    assert after == b"echo kept\r\nkept\r\n# "


def test_typeahead_during_seq_runs_after_it():
    async def scenario():
        console = await booted()
        await console.write(b"seq 100000\r")
        await asyncio.wait_for(console.read(), TIMEOUT)  # the echo
        await asyncio.wait_for(console.read(), TIMEOUT)  # the first numbers
        await console.write(b"echo after\r")
        return await read_until(console, b"after\r\n# ")

    output = asyncio.run(scenario())
    assert output.count(b"echo after") == 1
    assert output.endswith(b"\r\n100000\r\n# echo after\r\nafter\r\n# ")


def test_typeahead_of_two_commands_runs_in_order():
    async def scenario():
        console = await booted()
        await console.write(b"seq 3\rseq 2\recho done\r")
        return await read_until(console, b"done\r\n# ")

    output = asyncio.run(scenario())
    assert output == (b"seq 3\r\n1\r\n2\r\n3\r\n# seq 2\r\n1\r\n2\r\n# echo done\r\ndone\r\n# ")


def test_ctrl_c_also_drops_typeahead():
    async def scenario():
        console = await booted()
        await console.write(b"seq 10000000\recho lost\r")
        await read_until(console, b"\r\n5\r\n")
        await console.write(b"\x03")
        await read_until(console, b"^C\r\n# ")
        return await run_line(console, b"echo kept")

    assert asyncio.run(scenario()) == b"echo kept\r\nkept\r\n# "


def test_poweroff_ends_output_with_guest_stopped_reason():
    async def scenario():
        console = await booted()
        assert console.end_reason is None
        await console.write(b"poweroff\r")
        output = await read_to_eof(console)
        again = await asyncio.wait_for(console.read(), TIMEOUT)
        await console.write(b"echo ignored\r")
        after_write = await asyncio.wait_for(console.read(), TIMEOUT)
        return console, output, again, after_write

    console, output, again, after_write = asyncio.run(scenario())
    assert output.startswith(b"poweroff\r\n")
    assert b"Power down" in output
    assert not output.endswith(PROMPT)
    assert again == b"" and after_write == b""
    assert console.powered_off
    assert console.end_reason == (Reason.GUEST_STOPPED, {})


def test_poweroff_in_typeahead_ends_console_after_running_command():
    async def scenario():
        console = await booted()
        await console.write(b"seq 3\rpoweroff\recho never\r")
        return console, await read_to_eof(console)

    console, output = asyncio.run(scenario())
    assert output.startswith(b"seq 3\r\n1\r\n2\r\n3\r\n# poweroff\r\n")
    assert b"never" not in output
    assert console.end_reason == (Reason.GUEST_STOPPED, {})


def test_utf8_character_split_across_writes_is_echoed_whole():
    async def scenario():
        console = await booted()
        await console.write(b"echo \xc3")
        first = await asyncio.wait_for(console.read(), TIMEOUT)
        await console.write(b"\xa9t\xc3\xa9\r")
        return first, await read_until(console, b"\r\n" + PROMPT)

    first, rest = asyncio.run(scenario())
    assert first == b"echo "
    assert rest == "été\r\nété\r\n# ".encode()


def test_read_waits_for_input():
    async def scenario():
        console = await booted()
        pending = asyncio.ensure_future(console.read())
        await asyncio.sleep(0.01)
        assert not pending.done()
        await console.write(b"z")
        return await asyncio.wait_for(pending, TIMEOUT)

    assert asyncio.run(scenario()) == b"z"


def test_sha256sum_hashes_typed_input_until_ctrl_d_like_a_tty():
    async def scenario():
        console = await booted()
        await console.write(b"sha256sum\r")
        await read_until(console, b"sha256sum\r\n")
        await console.write("line one\rzwei ü\r".encode())
        echoed = await read_until(console, "zwei ü\r\n".encode())
        await console.write(b"\x04")
        return echoed, await read_until(console, PROMPT)

    echoed, answer = asyncio.run(scenario())
    assert echoed == "line one\r\nzwei ü\r\n".encode()
    digest = hashlib.sha256("line one\nzwei ü\n".encode()).hexdigest()
    assert answer == f"{digest}  -\r\n# ".encode()


def test_sha256sum_of_a_large_paste_split_across_writes():
    data = bytes(random.Random(7).choice(b"abcdefghij \r") for _ in range(300_000))

    async def scenario():
        console = await booted()
        await console.write(b"sha256sum\r")
        for at in range(0, len(data), 4096):
            await console.write(data[at : at + 4096])
        await console.write(b"\x04")
        return await read_until(console, b"  -\r\n" + PROMPT)

    answer = asyncio.run(scenario())
    assert hashlib.sha256(data.replace(b"\r", b"\n")).hexdigest().encode() in answer


def test_ctrl_c_abandons_sha256sum():
    async def scenario():
        console = await booted()
        await console.write(b"sha256sum\rabc\x03")
        await read_until(console, b"^C\r\n" + PROMPT)
        return await run_line(console, b"echo back")

    assert asyncio.run(scenario()) == b"echo back\r\nback\r\n# "


def test_pasted_lines_answer_like_lines_typed_key_by_key():
    paste = "echo a\tb  c\rnope x\recho 'q r' \"s\"\rabc\x7f\x7fd\r\x1b[Aecho ü\r".encode()

    async def scenario(pieces: list[bytes]) -> bytes:
        console = await booted()
        for piece in pieces:
            await console.write(piece)
        return await read_until(console, b"\xc3\xbc\r\n" + PROMPT)

    whole = asyncio.run(scenario([paste]))
    by_key = asyncio.run(scenario([paste[i : i + 1] for i in range(len(paste))]))
    assert whole == by_key
    assert b"\r\na b c\r\n# nope x\r\nsh: nope: not found\r\n# " in whole
    assert b"\r\nq r s\r\n# abc\b \b\b \bd\r\nsh: ad: not found\r\n# " in whole


# What the hypervisor sends (issue 17): the simulated kernel answers as Linux prints it.


def test_sysrq_keys_and_an_nmi_are_answered_the_way_the_kernel_prints_them():
    async def scenario():
        console = await booted()
        console.signal(SendRequest("sysrq", "h"))
        help_line = await read_until(console, b"(z)\r\n")
        console.signal(SendRequest("sysrq", "m"))
        memory = await read_until(console, b"Mem-Info:")
        console.signal(SendRequest("nmi"))
        nmi = await read_until(console, b"continue\r\n")
        return help_line, memory, nmi, await run_line(console, b"echo on")

    help_line, memory, nmi, after = asyncio.run(scenario())
    assert b"sysrq: HELP : loglevel(0-9) reboot(b) crash(c)" in help_line
    assert b"] sysrq: Show Memory\r\n" in memory
    assert b"Uhhuh. NMI received for unknown reason 30 on CPU 0." in nmi
    assert after.endswith(b"on\r\n# ")


def test_sysrq_poweroff_ends_the_console_and_crash_hangs_it():
    async def poweroff():
        console = await booted()
        console.signal(SendRequest("sysrq", "o"))
        return await read_to_eof(console), console.end_reason

    out, reason = asyncio.run(poweroff())
    assert out.endswith(b"reboot: Power down\r\n")
    assert reason == (Reason.GUEST_STOPPED, {})

    async def crash():
        console = await booted()
        console.signal(SendRequest("sysrq", "c"))
        panic = await read_until(console, b"crash ]---\r\n")
        await console.write(b"echo ignored\r")
        console.signal(SendRequest("nmi"))
        return panic, console._pending

    panic, pending = asyncio.run(crash())
    assert b"Kernel panic - not syncing: sysrq triggered crash" in panic
    assert not pending  # a panicked kernel neither echoes nor answers


def test_a_break_makes_the_next_key_a_sysrq_key_once():
    async def scenario():
        console = await booted()
        console.signal(SendRequest("break"))
        await console.write(b"t")
        state = await read_until(console, b"state:S")
        return state, await run_line(console, b"echo t")

    state, after = asyncio.run(scenario())
    assert b"sysrq: Show State" in state
    assert not state.startswith(b"t")
    assert after == b"echo t\r\nt\r\n# "


def test_other_control_keys_are_echoed_in_caret_notation():
    async def scenario():
        console = await booted()
        await console.write(b"\x11\x1d\x00")
        return await read_until(console, b"^@")

    assert asyncio.run(scenario()) == b"^Q^]^@"
