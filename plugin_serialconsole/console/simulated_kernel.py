"""What the simulated guest's kernel prints when the hypervisor sends it something: the
lines a Linux kernel writes to its console for each magic SysRq key and for an NMI, and
what the key does to the simulated guest afterwards."""

from __future__ import annotations

from dataclasses import dataclass

from plugin_serialconsole.sendkeys import BREAK, CTRL_ALT_DEL, NMI, SYSRQ, SendRequest

# The kernel's own help line (drivers/tty/sysrq.c prints the action names of its table).
SYSRQ_HELP = (
    "sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) "
    "memory-full-oom-kill(f) kill-all-tasks(i) thaw-filesystems(j) sak(k) "
    "show-backtrace-all-active-cpus(l) show-memory-usage(m) nice-all-RT-tasks(n) "
    "poweroff(o) show-registers(p) show-all-timers(q) unraw(r) sync(s) "
    "show-task-states(t) unmount(u) show-blocked-tasks(w) dump-ftrace-buffer(z)"
)
SYSRQ_LINES: dict[str, tuple[str, ...]] = {
    "b": ("sysrq: Resetting",),
    "c": (
        "sysrq: Trigger a crash",
        "Kernel panic - not syncing: sysrq triggered crash",
        "---[ end Kernel panic - not syncing: sysrq triggered crash ]---",
    ),
    "d": ("sysrq: Show Locks Held",),
    "e": ("sysrq: Terminate All Tasks",),
    "f": ("sysrq: Manual OOM execution",),
    "h": (SYSRQ_HELP,),
    "i": ("sysrq: Kill All Tasks",),
    "j": ("sysrq: Emergency Thaw of all frozen filesystems",),
    "k": ("sysrq: SAK",),
    "l": ("sysrq: Show backtrace of all active CPUs", "NMI backtrace for cpu 0"),
    "m": (
        "sysrq: Show Memory",
        "Mem-Info:",
        "active_anon:812 inactive_anon:0 isolated_anon:0",
        "free:48211 free_pcp:112 free_cma:0",
    ),
    "n": ("sysrq: Nice All RT Tasks",),
    "o": ("sysrq: Power Off", "reboot: Power down"),
    "p": ("sysrq: Show Regs", "CPU: 0 PID: 0 Comm: swapper/0 Not tainted"),
    "q": ("sysrq: Show clockevent devices & pending hrtimers (no others)",),
    "r": ("sysrq: Keyboard mode set to system default",),
    "s": ("sysrq: Emergency Sync", "Emergency Sync complete"),
    "t": ("sysrq: Show State", "task:sh              state:S stack:0     pid:1     ppid:0"),
    "u": ("sysrq: Emergency Remount R/O", "Emergency Remount complete"),
    "w": ("sysrq: Show Blocked State",),
    "z": ("sysrq: Dump ftrace buffer",),
}
NMI_LINES = (
    "Uhhuh. NMI received for unknown reason 30 on CPU 0.",
    "Dazed and confused, but trying to continue",
)
CTRL_ALT_DEL_LINES = ("The system is going down NOW!", "Sent SIGTERM to all processes")

# What the guest does after printing.
CONTINUE = "continue"
REBOOT = "reboot"
POWER_OFF = "power-off"
HANG = "hang"
SYSRQ_WAIT = "sysrq-wait"  # a Break: the next key typed within 5 s is a SysRq key
BREAK_SYSRQ_WINDOW = 5.0


@dataclass(frozen=True)
class KernelAnswer:
    lines: tuple[str, ...]
    then: str = CONTINUE


def answer(request: SendRequest) -> KernelAnswer:
    """What the kernel prints for ``request`` and what the guest does next."""
    if request.action == SYSRQ:
        return sysrq(request.key)
    if request.action == NMI:
        return KernelAnswer(NMI_LINES)
    if request.action == CTRL_ALT_DEL:
        return KernelAnswer(CTRL_ALT_DEL_LINES, REBOOT)
    if request.action == BREAK:
        return KernelAnswer((), SYSRQ_WAIT)
    return KernelAnswer(())


def sysrq(key: str) -> KernelAnswer:
    """SysRq + ``key``; a key the kernel does not know gets its help, as on Linux."""
    if key.isdigit():
        return KernelAnswer(("sysrq: Changing Loglevel", f"sysrq: Loglevel set to {key}"))
    then = {"b": REBOOT, "o": POWER_OFF, "c": HANG}.get(key, CONTINUE)
    return KernelAnswer(SYSRQ_LINES.get(key, (SYSRQ_HELP,)), then)


def printk(lines: tuple[str, ...], uptime: float) -> bytes:
    """``lines`` as a kernel with printk times writes them to a serial console."""
    stamp = f"[{uptime:12.6f}] "
    return b"".join(f"\r\n{stamp}{line}".encode() for line in lines) + b"\r\n"
