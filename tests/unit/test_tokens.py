"""One-time console tokens kept as hashed files."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import time

import pytest

from plugin_serialconsole.bridge.tokens import (
    LoginBinding,
    TokenRecord,
    TokenStore,
    digest,
    looks_like_token,
)
from plugin_serialconsole.rights import CONSOLE, Access, Subject
from plugin_serialconsole.rundir import UnsafeDirectory

SOCKET = "0123456789abcdef01234567"


@pytest.fixture
def store(tmp_path):
    return TokenStore(tmp_path / "tokens").open(create=True)


def test_directory_is_private(store):
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_issued_token_opens_its_console_exactly_once(store):
    issued = store.issue(SOCKET, ttl=60)
    assert store.consume(issued.token) == TokenRecord(SOCKET)
    assert store.consume(issued.token) is None


def test_issued_token_looks_like_a_token(store):
    issued = store.issue(SOCKET, ttl=60)
    assert looks_like_token(issued.token)
    assert issued.expires_at > time.time() + 50


def test_tokens_are_unique(store):
    assert len({store.issue(SOCKET, ttl=60).token for _ in range(50)}) == 50


def test_expired_token_is_refused(store):
    issued = store.issue(SOCKET, ttl=-1)
    assert store.consume(issued.token) is None


def test_expired_token_is_refused_even_on_second_try(store):
    issued = store.issue(SOCKET, ttl=-1)
    store.consume(issued.token)
    assert store.consume(issued.token) is None


def test_unknown_token_is_refused(store):
    store.issue(SOCKET, ttl=60)
    assert store.consume("A" * 43) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "short",
        "A" * 39,
        "A" * 65,
        "../x",
        "../" + "A" * 43,
        "A" * 42 + "/",
        "A" * 42 + ".",
        "A" * 42 + "=",
        "A" * 42 + " ",
        "é" * 43,
    ],
)
def test_garbage_tokens_are_refused(store, garbage):
    store.issue(SOCKET, ttl=60)
    assert store.consume(garbage) is None


def test_garbage_shaped_like_a_stored_digest_is_refused(store):
    issued = store.issue(SOCKET, ttl=60)
    assert store.consume(issued.digest) is None
    assert store.consume(issued.token) == TokenRecord(SOCKET)


def test_record_is_stored_under_sha256_digest(store):
    issued = store.issue(SOCKET, ttl=60)
    expected = hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.digest == expected == digest(issued.token)
    assert [p.name for p in store.directory.iterdir()] == [expected]
    record = json.loads((store.directory / expected).read_bytes())
    assert record["socket"] == SOCKET
    assert record["expires"] == pytest.approx(issued.expires_at)


def test_token_text_is_in_no_file_name_or_content(store):
    issued = [store.issue(SOCKET, ttl=60) for _ in range(5)]
    files = list(store.directory.iterdir())
    assert len(files) == 5
    for token in (i.token for i in issued):
        for path in files:
            assert token not in path.name
            assert token.encode() not in path.read_bytes()


def test_record_file_mode_is_0600(store):
    issued = store.issue(SOCKET, ttl=60)
    mode = (store.directory / issued.digest).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_revoke_makes_token_useless(store):
    issued = store.issue(SOCKET, ttl=60)
    kept = store.issue(SOCKET, ttl=60)
    store.revoke(issued.digest)
    assert store.consume(issued.token) is None
    assert store.consume(kept.token) == TokenRecord(SOCKET)


def test_revoke_unknown_digest_is_harmless(store):
    store.revoke("0" * 64)
    assert list(store.directory.iterdir()) == []


def test_sweep_removes_expired_records_only(store):
    expired = [store.issue(SOCKET, ttl=-5) for _ in range(3)]
    alive = [store.issue(SOCKET, ttl=60) for _ in range(2)]
    assert store.sweep() == 3
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(a.digest for a in alive)
    assert all(store.consume(e.token) is None for e in expired)
    assert all(store.consume(a.token) == TokenRecord(SOCKET) for a in alive)


def test_sweep_removes_unreadable_records(store):
    (store.directory / ("f" * 64)).write_bytes(b"not json")
    alive = store.issue(SOCKET, ttl=60)
    assert store.sweep() == 1
    assert [p.name for p in store.directory.iterdir()] == [alive.digest]


def test_clear_removes_everything(store):
    issued = [store.issue(SOCKET, ttl=60) for _ in range(3)]
    store.clear()
    assert list(store.directory.iterdir()) == []
    assert all(store.consume(i.token) is None for i in issued)


def _consume_all(directory, tokens, barrier, results):
    store = TokenStore(directory)
    barrier.wait()
    results.put([store.consume(token) for token in tokens])


def test_concurrent_consumers_have_exactly_one_winner_per_token(store):
    context = multiprocessing.get_context("fork")
    issued = [store.issue(f"{n:024x}", ttl=60) for n in range(40)]
    tokens = [i.token for i in issued]
    workers = 6
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_consume_all, args=(store.directory, tokens, barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=10) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    for n, _token in enumerate(tokens):
        winners = [outcome[n] for outcome in outcomes if outcome[n] is not None]
        assert winners == [TokenRecord(f"{n:024x}")]
    assert list(store.directory.iterdir()) == []


def test_binding_to_a_login_session_is_kept_with_the_token(store):
    binding = LoginBinding("serialconsole_session", "ab" * 32)
    issued = store.issue(SOCKET, ttl=60, binding=binding)
    assert binding.digest in (store.directory / issued.digest).read_text()
    assert store.consume(issued.token) == TokenRecord(SOCKET, binding)


def _forged_record() -> bytes:
    return json.dumps({"socket": SOCKET, "expires": time.time() + 60}).encode()


def test_token_file_of_another_user_opens_nothing(store):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    token = "forged-token-forged-token-forged-token-forged"
    path = store.directory / digest(token)
    path.write_bytes(_forged_record())
    os.chown(path, 65534, 65534)
    assert store.consume(token) is None


def test_token_file_behind_a_symbolic_link_opens_nothing(store, tmp_path):
    token = "linked-token-linked-token-linked-token-linked"
    (tmp_path / "planted").write_bytes(_forged_record())
    (store.directory / digest(token)).symlink_to(tmp_path / "planted")
    assert store.consume(token) is None
    assert (tmp_path / "planted").exists()


def test_fifo_under_a_token_name_does_not_hang_the_reader(store):
    token = "fifo-token-fifo-token-fifo-token-fifo-token-x"
    os.mkfifo(store.directory / digest(token))
    assert store.consume(token) is None


def test_clear_leaves_what_links_point_at(store, tmp_path):
    (tmp_path / "precious").write_text("keep")
    (store.directory / "link").symlink_to(tmp_path / "precious")
    store.clear()
    assert list(store.directory.iterdir()) == []
    assert (tmp_path / "precious").read_text() == "keep"


def test_symlinked_token_directory_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "tokens").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeDirectory, match="symbolic link"):
        TokenStore(tmp_path / "tokens").open(create=True)


def test_a_token_carries_whom_it_was_issued_to_and_for_what(tmp_path):
    store = TokenStore(tmp_path / "tokens").open(create=True)
    access = Access(Subject("alice", frozenset({"ops"})), "default", "web-1 ✓", CONSOLE)
    token = store.issue(SOCKET, 60, access=access).token
    assert store.consume(token).access == access
