"""Capture and the boot log on a real guest (issue 15): the host holds the console from
the guest's start, with nobody watching, and logs the boot; POST .../start logs the very
first byte; reboots, host restarts and ``virsh console --force`` are marked in the log."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from tests.integration.helpers import (
    Host,
    assert_final_line,
    config_file,
    console_processes,
    rss_kib,
    seq_bytes,
    wait_for,
)

from .consoles import SEQ_TIMEOUT, SHELL_TIMEOUT, answer_42, open_console, shell
from .daemons import URI
from .guests import BOOT_LINE, BOOT_TIMEOUT, NAME_PREFIX, SINGLE, TinyGuest, connect, prompt
from .virsh import CONNECTED, VirshConsole

LOG_SIZE = 65536
KERNEL_FIRST_LINE = b"Linux version"
TAKEN_OVER = "SCONS0107L"
GAP = re.compile(rb"-- serialconsole: not captured from (\S+) to (\S+): ([^\r\n]+?) --")
FINAL_LINE = re.compile(rb"\r\n\[serialconsole\] [^\r\n]*\(SCONS\d{4}L\)\r\n$")
# A writer that stops reading while the guest floods: ~7.9 MB of output, of which the
# pipeline's buffers take ~3.5 MB before the console process sees the stall, all of it into a
# log big enough to keep it; the console process may grow by a few buffers (old: +14 MB).
STALLED_SEQ = 1_000_000
STALLED_LOG_SIZE = 16 * 1024 * 1024
STALLED_GROWTH_KIB = 8 * 1024
STALLED_TIMEOUT = 300.0
SKIPPED = re.compile(rb"\r\n\[serialconsole\] [^\r\n]*?(\d+) bytes[^\r\n]*\(SCONS0113L\)\r\n")


@pytest.fixture
def verbose_guest_xml(guest_dir: Path, tmp_path: Path) -> Path:
    """The tiny guest without ``quiet``: the kernel prints its banner."""
    path = tmp_path / SINGLE
    path.write_text((guest_dir / SINGLE).read_text().replace(" quiet", ""))
    return path


@pytest.fixture
def capture_host(libvirt_daemons, tmp_path: Path) -> Iterator[Callable[[], Host]]:
    """Hosts capturing this test process's guests, logging to one state directory."""
    hosts: list[Host] = []

    def start(log_size: int = LOG_SIZE) -> Host:
        config = config_file(
            tmp_path,
            "serialconsole",
            capture_include=f"{NAME_PREFIX}{os.getpid()}-*",
            log_size=str(log_size),
        )
        state = str(tmp_path / "state")
        host = Host("--config", str(config), "--capture", "all", "--state-dir", state,
                    source=("--uri", URI))  # fmt: skip
        hosts.append(host)
        return host.start()

    yield start
    for host in reversed(hosts):
        host.finish()


def log_of(host: Host, guest: str, **params: str):
    return host.get(f"vms/{guest}/serial/log", params=params or None)


def wait_log(host: Host, guest: str, text: bytes, timeout: float = BOOT_TIMEOUT, **params) -> bytes:
    def logged() -> bytes | None:
        response = log_of(host, guest, **params)
        return (
            response.content if response.status_code == 200 and text in response.content else None
        )

    return wait_for(logged, timeout, f"{text!r} in the log of {guest}")


def wait_captured(host: Host, guest: str, timeout: float = 15.0) -> dict:
    def capture() -> dict | None:
        return next((s for s in host.sessions() if s["guest"] == guest and s["capture"]), None)

    try:
        return wait_for(capture, timeout, f"a capture of {guest}")
    except AssertionError as error:
        lines = [line for line in host.full_log().splitlines() if "cherrypy.access" not in line]
        raise AssertionError("\n".join([str(error), *lines[-40:]])) from None


@pytest.fixture
def direct_guest(verbose_guest_xml: Path) -> Iterator[Callable[[Host], TinyGuest]]:
    started: list[TinyGuest] = []

    def boot_captured(host: Host) -> TinyGuest:
        guest = TinyGuest(URI, verbose_guest_xml, "capture")
        started.append(guest)
        guest.create(paused=True)
        wait_captured(host, guest.name)
        guest.domain.resume()
        wait_log(host, guest.name, prompt(0))
        return guest

    yield boot_captured
    for guest in started:
        guest.destroy()


def remove_defined(domain: libvirt.virDomain, conn: libvirt.virConnect) -> None:
    """Stop and undefine a guest a test defined itself, then close its connection."""
    with contextlib.suppress(libvirt.libvirtError):
        domain.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        domain.undefine()
    conn.close()


def test_a_guest_started_through_libvirt_is_logged_from_its_kernel_banner(
    capture_host, direct_guest
):
    host = capture_host()
    guest = direct_guest(host)
    log = wait_log(host, guest.name, BOOT_LINE)
    # Captured on libvirt's STARTED event (a later check would say "already running").
    assert log.startswith(b"\r\n-- serialconsole: guest started at ")
    assert KERNEL_FIRST_LINE in log
    assert log.index(KERNEL_FIRST_LINE) < log.index(BOOT_LINE) < log.rindex(prompt(0))
    listed = {g["name"]: g for g in host.get("vms").json()}
    assert listed[guest.name]["log_written"] is not None


def test_post_start_logs_the_very_first_byte(capture_host, verbose_guest_xml):
    host = capture_host()
    name = f"{NAME_PREFIX}{os.getpid()}-defined"
    conn = connect(URI)
    xml = verbose_guest_xml.read_text()
    xml = re.sub(r"<name>[^<]*</name>", f"<name>{name}</name>", xml, count=1)
    domain = conn.defineXML(xml)
    try:
        response = host.post(f"vms/{name}/start")
        assert response.status_code == 200, response.text
        assert response.json()["captured"] == ["serial0"]
        log = wait_log(host, name, BOOT_LINE)
        banner, first_output = log.split(b" --\r\n", 1)
        assert banner.startswith(b"\r\n-- serialconsole: guest started at ")
        first_line = first_output.split(b"\r\n", 1)[0]
        assert KERNEL_FIRST_LINE in first_line, first_output[:300]  # nothing before it
    finally:
        remove_defined(domain, conn)


def test_a_reboot_adds_a_boot_line(capture_host, direct_guest, connect):
    host = capture_host()
    guest = direct_guest(host)
    console = open_console(host, connect, guest)
    shell(console)
    console.send("reboot -f\r")
    wait_for(
        lambda: log_of(host, guest.name).content.count(BOOT_LINE) == 2,
        BOOT_TIMEOUT,
        "the second boot in the log",
    )
    log = log_of(host, guest.name).content
    assert log.count(b"-- serialconsole: guest started at ") == 2  # the start's, the reboot's
    assert log.index(BOOT_LINE) < log.rindex(b"guest started at") < log.rindex(BOOT_LINE)
    shell(console)  # the console went on across the reboot
    answer_42(console)


def test_virsh_force_takes_the_console_and_the_capture_takes_it_back_after(
    capture_host, direct_guest, connect
):
    host = capture_host()
    guest = direct_guest(host)
    web = open_console(host, connect, guest)
    shell(web)
    virsh = VirshConsole(guest.name, force=True)
    try:
        virsh.read_until(CONNECTED)
        assert_final_line(web.read_until_close(), TAKEN_OVER)  # the web client is told
        wait_log(host, guest.name, b"The console was taken over by another session. --")
    finally:
        virsh.close()
    log = wait_log(host, guest.name, b"not captured from", timeout=30.0)
    start, end, why = GAP.search(log).groups()
    assert start <= end and why == b"The console was taken over by another session."
    again = open_console(host, connect, guest)
    shell(again)
    answer_42(again)


def test_a_flood_keeps_the_log_bounded_and_since_cuts_it(capture_host, direct_guest, connect):
    host = capture_host()
    guest = direct_guest(host)
    before = time.time()
    wait_for(lambda: time.time() > before + 1.1, 5.0, "a new second")  # a stretch of its own
    console = open_console(host, connect, guest)
    shell(console)
    console.send("seq 30000\r")
    console.read_until(b"\r\n30000\r\n", BOOT_TIMEOUT)
    whole = wait_log(host, guest.name, b"\r\n30000\r\n")
    assert len(whole) <= 2 * LOG_SIZE and KERNEL_FIRST_LINE not in whole  # rotated out
    recent = log_of(host, guest.name, since=f"{before + 1:.3f}").content
    assert b"\r\n30000\r\n" in recent and BOOT_LINE not in recent  # booted before
    assert recent in log_of(host, guest.name).content


def test_a_host_restart_while_the_guest_prints_marks_the_gap(capture_host, direct_guest, connect):
    first = capture_host()
    guest = direct_guest(first)
    console = open_console(first, connect, guest)
    shell(console)
    console.send("while :; do echo tick; sleep 0.2; done\r")
    console.read_until(b"tick\r\n")
    console.close()
    first.terminate()
    second = capture_host()
    wait_captured(second, guest.name)
    log = wait_log(second, guest.name, b"not captured from")
    wait_log(second, guest.name, b"tick\r\n", since=str(time.time()))
    start, end, why = GAP.search(log).groups()
    assert start <= end and why == b"The host is shutting down."
    assert b"capture ended at " in log and log.count(b"tick") >= 1


def test_a_destroy_and_start_logs_the_new_boot(capture_host, verbose_guest_xml):
    # virsh destroy g; virsh start g: the new run (another domain ID) gets a capture of
    # its own from libvirt's STARTED event, not the earlier run's one that is ending.
    host = capture_host()
    name = f"{NAME_PREFIX}{os.getpid()}-restarted"
    conn = connect(URI)
    xml = verbose_guest_xml.read_text()
    domain = conn.defineXML(re.sub(r"<name>[^<]*</name>", f"<name>{name}</name>", xml, count=1))
    try:
        domain.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        wait_captured(host, name)
        domain.resume()
        wait_log(host, name, BOOT_LINE)
        domain.destroy()
        domain.create()
        wait_for(
            lambda: log_of(host, name).content.count(BOOT_LINE) == 2,
            BOOT_TIMEOUT,
            "the second boot in the log",
        )
        log = log_of(host, name).content
        second_run = log[log.index(BOOT_LINE) :]
        # logged from its kernel banner on, not from a later recheck
        assert second_run.count(KERNEL_FIRST_LINE) == 1, log.decode(errors="replace")
    finally:
        remove_defined(domain, conn)


def test_a_recording_of_a_seq_session_is_byte_exact(capture_host, direct_guest, connect):
    """Issue 18: a console session's recording replays exactly what its writer received
    after the ring it was first sent."""
    host = capture_host()
    guest = direct_guest(host)
    opened = host.open(guest.name)
    console = connect(opened["ws_url"])
    console.send("\r")
    received = console.read_until(prompt(0), SHELL_TIMEOUT)
    console.send("seq 3000\r")
    received += console.read_until(b"\r\n3000\r\n", SEQ_TIMEOUT)
    received += console.read_until(prompt(0), SHELL_TIMEOUT)
    console.send("\x11")
    rest = console.read_until_close()
    assert_final_line(rest, "SCONS0102L")
    received += FINAL_LINE.sub(b"", rest)
    seen = received[opened["replay_bytes"] :]
    assert b"\r\n2999\r\n3000\r\n" in seen

    def recorded() -> bytes | None:
        listed = host.get(f"vms/{guest.name}/recordings").json()
        if not listed or not listed[0]["end"]:
            return None
        cast = host.get(f"vms/{guest.name}/recordings/{listed[0]['session']}").content
        header, *lines = cast.decode().splitlines()
        output = "".join(text for _, kind, text in map(json.loads, lines) if kind == "o")
        return output.encode() if output.encode().endswith(seen[-64:]) else None

    assert wait_for(recorded, 10.0, "the session's recording") == seen


def test_a_stalled_writer_never_grows_the_console_process_nor_stops_the_log(
    capture_host, new_guest, connect, tmp_path
):
    """A writer whose browser stops reading (a frozen tab, a stalled link) while the guest
    floods. libvirtd drains the guest's pty whatever the console process reads, and libvirt's
    client queues every message: holding the output back for the writer only moved it into
    that queue, unbounded, and held the capture log too. The console process reads and logs
    on; the writer skips ahead, told how many bytes it missed."""
    host = capture_host(log_size=STALLED_LOG_SIZE)
    guest = new_guest(boot=False)  # the quiet kernel: nothing but seq's lines in its output
    wait_captured(host, guest.name)
    guest.domain.resume()
    wait_log(host, guest.name, prompt(0))
    (process,) = console_processes(host)
    (log_file,) = (tmp_path / "state" / "logs").glob("*.log")
    small_window = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)
    console = connect(host.open(guest.name)["ws_url"], sockopt=small_window)
    shell(console)
    before = rss_kib(process)
    end = f"\r\n{STALLED_SEQ}\r\n".encode() + prompt(0)
    console.send(f"seq {STALLED_SEQ}\r")  # then reads nothing until the guest is done

    def logged_to_the_end() -> bool:
        growth = rss_kib(process) - before
        logged = log_file.stat().st_size
        assert growth < STALLED_GROWTH_KIB, f"grew by {growth} KiB, {logged} bytes logged"
        with log_file.open("rb") as log:
            log.seek(max(0, logged - 256))
            return end in log.read()

    wait_for(logged_to_the_end, STALLED_TIMEOUT, "the whole seq in the capture log")
    log = log_of(host, guest.name).content
    first = log.index(b"\r\n1\r\n2\r\n3\r\n") + 2
    output = log[first : log.index(end, first) + len(end)]
    assert output == seq_bytes(STALLED_SEQ) + prompt(0)  # every byte in the log
    received = console.read_until(end, SEQ_TIMEOUT)
    (skip,) = SKIPPED.finditer(received)
    got_before = received[received.index(b"\r\n1\r\n2\r\n3\r\n") + 2 : skip.start()]
    assert output.startswith(got_before)
    assert output[len(got_before) + int(skip.group(1)) :] == received[skip.end() :]
