"""The host's view of a console session: what a request does, and what reports change
in its claims."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from plugin_serialconsole.bridge.tokens import LoginBinding
from plugin_serialconsole.model.console_session import (
    CONNECTED,
    DETACHED,
    GONE,
    IN_USE,
    JOIN,
    REOPEN,
    START,
    TAKE_OVER,
    WAIT,
    WAITING,
    ConsoleSession,
    plan,
)
from plugin_serialconsole.model.guests import ConsoleDevice, Guest

GUEST = Guest("vm", "3d1a9a4c-5e2b-4b7a-9f60-0c0de0000001", "running", ())
FIRST = "0" * 24
VIEWER = FIRST + "-0000000a"
WRITER = FIRST + "-0000000b"


def session(state: str | None = None, started: bool = True) -> ConsoleSession:
    made = ConsoleSession(GUEST, ConsoleDevice("serial0", "pty"), FIRST)
    if started:
        made.process = SimpleNamespace(pid=4242)  # stands in for the running process
    if state is not None:
        made.claim("write", FIRST, "alice")
        made.apply({"event": "connected", "socket": FIRST, "mode": "write"})
        if state == DETACHED:
            made.apply({"event": "left", "socket": FIRST, "mode": "write"})
        assert made.state == state
    return made


@pytest.mark.parametrize(
    ("holder", "mode", "force", "action"),
    [
        (None, "write", False, START),
        (None, "view", False, START),
        ("starting", "write", True, WAIT),
        ("starting", "view", False, WAIT),
        (CONNECTED, "write", False, IN_USE),
        (CONNECTED, "write", True, TAKE_OVER),
        (CONNECTED, "view", False, JOIN),
        (DETACHED, "write", False, JOIN),  # reattach
        (DETACHED, "write", True, JOIN),  # nobody to take it from: reattach
        (DETACHED, "view", False, JOIN),
    ],
)
def test_plan(holder, mode, force, action):
    if holder == "starting":
        holder = session(started=False)
    elif holder is not None:
        holder = session(holder)
    assert plan(holder, mode, force) == action


@pytest.mark.parametrize(
    ("state", "mode", "force", "action"),
    [
        (CONNECTED, "write", False, REOPEN),  # a reload the host has not heard leave yet
        (CONNECTED, "write", True, REOPEN),  # its own seat: nobody else's to end
        (WAITING, "write", False, REOPEN),  # reloaded before it connected
        (CONNECTED, "view", False, JOIN),
        (DETACHED, "write", False, JOIN),
    ],
)
def test_plan_for_the_writers_own_login(state, mode, force, action):
    holder = session()
    holder.claim("write", FIRST, "alice", LoginBinding("serialconsole_session", "a" * 64))
    holder.claims[FIRST].token = "d" * 64  # its request issued its token
    if state != WAITING:
        holder.apply({"event": "connected", "socket": FIRST, "mode": "write"})
    if state == DETACHED:
        holder.apply({"event": "left", "socket": FIRST, "mode": "write"})
    same = LoginBinding("serialconsole_session", "a" * 64)
    own = holder.writer_of_login("alice", same) is not None
    assert plan(holder, mode, force, own) == action


@pytest.mark.parametrize(
    ("user", "login"),
    [
        ("alice", LoginBinding("serialconsole_session", "b" * 64)),  # another login of hers
        ("alice", None),  # HTTP Basic or no auth: no login to tell
        ("bob", LoginBinding("serialconsole_session", "a" * 64)),
    ],
)
def test_no_other_login_holds_the_writers_seat(user, login):
    holder = session()
    holder.claim("write", FIRST, "alice", LoginBinding("serialconsole_session", "a" * 64))
    assert holder.writer_of_login(user, login) is None
    unbound = session(CONNECTED)  # a writer whose token no login session was issued to
    assert unbound.writer_of_login("alice", login) is None


def test_a_writer_of_the_same_login_still_being_issued_its_token_is_not_taken():
    """Two tabs of one login opening at once: the later took the earlier's seat while its
    request was still issuing the token, and the earlier was answered 401 "log in"."""
    holder = session()
    same = LoginBinding("serialconsole_session", "a" * 64)
    holder.claim("write", FIRST, "alice", same)
    assert holder.writer_of_login("alice", same) is None
    assert plan(holder, "write", False, False) == IN_USE  # the page tries again
    holder.claims[FIRST].token = "d" * 64
    assert holder.writer_of_login("alice", same) is holder.claims[FIRST]


def test_a_pending_writer_token_makes_the_console_in_use():
    waiting = session()
    waiting.claim("write", FIRST, "alice")
    assert waiting.state == WAITING
    assert plan(waiting, "write", False) == IN_USE


def test_a_session_started_for_a_viewer_has_a_free_writer_slot():
    viewed = session()
    viewed.claim("view", FIRST, "bob")
    assert viewed.state == DETACHED and viewed.user == ""
    assert [v["user"] for v in viewed.as_json()["viewers"]] == ["bob"]
    assert plan(viewed, "write", False) == JOIN


def test_writer_comes_goes_and_reattaches():
    s = session()
    s.claim("write", FIRST, "alice")
    s.apply({"event": "connected", "socket": FIRST, "mode": "write"})
    assert (s.state, s.user) == (CONNECTED, "alice")
    s.apply({"event": "left", "socket": FIRST, "mode": "write"})
    assert (s.state, s.writer) == (DETACHED, None)
    assert s.user == "alice"  # the last writer's, once detached
    s.claim("write", WRITER, "carol")
    assert (s.state, s.user, s.writer.socket) == (WAITING, "carol", WRITER)
    s.apply({"event": "connected", "socket": WRITER, "mode": "write"})
    assert s.state == CONNECTED


def test_an_unused_writer_token_frees_the_slot_when_it_expires():
    s = session(DETACHED)
    s.claim("write", WRITER, "carol")
    s.apply({"event": "expired", "socket": WRITER, "mode": "write"})
    assert s.state == DETACHED


def test_viewers_are_listed_waiting_then_connected_then_gone():
    s = session(CONNECTED)
    s.claim("view", VIEWER, "bob")
    assert s.as_json()["viewers"] == [
        {"user": "bob", "since": s.claims[VIEWER].as_json()["since"], "state": WAITING}
    ]
    s.apply({"event": "connected", "socket": VIEWER, "mode": "view"})
    assert s.as_json()["viewers"][0]["state"] == CONNECTED
    assert s.state == CONNECTED  # viewers leave the writer alone
    s.apply({"event": "left", "socket": VIEWER, "mode": "view"})
    assert s.as_json()["viewers"] == []


def test_reports_about_unknown_sockets_change_nothing():
    s = session(CONNECTED)
    for event in ("connected", "left", "expired"):
        s.apply({"event": event, "socket": WRITER, "mode": "write"})
        s.apply({"event": event})
    assert s.state == CONNECTED


def test_every_socket_keeps_its_claim_until_the_session_ends():
    s = session(CONNECTED)
    login = LoginBinding("sid", "d" * 64)
    s.claim("view", VIEWER, "bob", login)
    s.claims[VIEWER].token = "f" * 64
    s.apply({"event": "expired", "socket": VIEWER, "mode": "view"})
    gone = s.claims[VIEWER]
    assert (gone.state, gone.token, gone.login, gone.user) == (GONE, "f" * 64, login, "bob")
    assert s.viewers == [] and set(s.claims) == {FIRST, VIEWER}


def test_a_released_claim_frees_the_writer_slot():
    s = session(DETACHED)
    s.claim("write", WRITER, "carol")
    s.release(WRITER)
    assert (s.state, s.writer, s.claims[WRITER].state) == (DETACHED, None, GONE)
    s.apply({"event": "connected", "socket": WRITER, "mode": "write"})  # too late: stays gone
    assert s.state == DETACHED
