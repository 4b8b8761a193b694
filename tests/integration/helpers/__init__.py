"""What tests (integration, browser, real-guest, install) and the benchmark share: a real
``serialconsole-host`` subprocess, WebSocket consoles, /proc, and bounded waiting.

Every wait is bounded and waits for exactly what the test then asserts; the only sleeps
are poll intervals inside those waits.
"""

from .consoles import (
    FINAL_LINE,
    PROMPT,
    WS_TIMEOUT,
    Console,
    assert_final_line,
    assert_unbroken_run,
    echo_works,
    expect_refused,
    seq_bytes,
    seq_numbers,
)
from .guests import write_test_guests
from .host import (
    HTTP_TIMEOUT,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    UNICODE_GUEST,
    Host,
    Session,
    idle_between_tests,
    run_refused_host,
    shared_host,
)
from .operators import (
    OPERATOR_PASSWORD,
    SESSION_COOKIE,
    auth_url,
    connect,
    login,
    write_rights_file,
    write_users_file,
)
from .procs import (
    assert_pid_gone,
    children,
    children_of,
    connection_handlers,
    console_processes,
    free_port,
    kill_pids,
    open_fds,
    pid_gone,
    proc_field,
    processes_mentioning,
    proxy_process,
    rss_kib,
    watch_rss,
    watch_rss_for,
    zombies_of,
)
from .ui import config_file, ui_without_xterm
from .waiting import POLL_INTERVAL, WaitTimeout, wait_equal, wait_for

__all__ = [
    "OPERATOR_PASSWORD", "SESSION_COOKIE", "auth_url", "config_file", "connect", "login",
    "run_refused_host", "ui_without_xterm", "write_rights_file", "write_users_file",
    "FINAL_LINE", "HTTP_TIMEOUT", "POLL_INTERVAL", "PROMPT", "READY_TIMEOUT", "STOP_TIMEOUT",
    "UNICODE_GUEST", "WS_TIMEOUT", "WaitTimeout", "Console", "Host", "Session", "assert_final_line",
    "assert_pid_gone", "assert_unbroken_run", "children", "children_of", "connection_handlers",
    "console_processes", "echo_works", "expect_refused", "free_port", "idle_between_tests",
    "kill_pids", "open_fds", "pid_gone", "proc_field", "processes_mentioning", "proxy_process",
    "rss_kib", "seq_bytes", "seq_numbers", "shared_host", "wait_equal", "wait_for", "watch_rss",
    "watch_rss_for", "write_test_guests", "zombies_of",
]  # fmt: skip
