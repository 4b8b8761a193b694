"""The standalone host's authentication: password hashes, users file, login sessions."""

from __future__ import annotations

import base64
import stat

import pytest

from plugin_serialconsole.host import passwd
from plugin_serialconsole.host.login import (
    COOKIE,
    Authenticator,
    LoginSessions,
    NoAuthentication,
    basic_credentials,
    session_digest,
)
from plugin_serialconsole.host.passwords import (
    UsersFile,
    hash_password,
    parse_users,
    verify_password,
)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def encoded():
    return hash_password(PASSWORD)


@pytest.fixture
def users_file(tmp_path, encoded):
    path = tmp_path / "users"
    path.write_text(f"# operators\nalice:{encoded}\n")
    path.chmod(0o600)
    return UsersFile(path)


def test_hash_is_salted_scrypt_and_verifies(encoded):
    assert encoded.startswith("$scrypt$ln=15,r=8,p=1$")
    assert PASSWORD not in encoded
    assert hash_password(PASSWORD) != encoded  # a new salt each time
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "x", encoded)


@pytest.mark.parametrize(
    "bad", ["", "plain", "$scrypt$ln=30,r=8,p=1$AAAA$AAAA", "$scrypt$ln=15,r=8,p=1$!!$AAAA"]
)
def test_malformed_or_too_costly_hashes_never_verify(bad):
    assert not verify_password(PASSWORD, bad)


def test_users_file_ignores_bad_lines(encoded):
    users = parse_users(f"alice:{encoded}\nbad line\nbob:plain\n../x:{encoded}\n")
    assert list(users) == ["alice"]


def test_users_file_verifies_and_rereads_when_changed(users_file, encoded):
    assert users_file.verify("alice", PASSWORD)
    assert not users_file.verify("alice", "wrong password")
    assert not users_file.verify("nobody", PASSWORD)
    users_file.path.write_text(f"bob:{encoded}\n")
    assert users_file.verify("bob", PASSWORD)
    assert not users_file.verify("alice", PASSWORD)


def test_users_file_tells_once_of_the_operators_a_reread_no_longer_finds(tmp_path, encoded):
    path = tmp_path / "users"
    path.write_text(f"alice:{encoded}\nbob:{encoded}\ncarol:{encoded}\n")
    removed: list[set[str]] = []
    users = UsersFile(path, on_removed=removed.append)
    assert set(users.users()) == {"alice", "bob", "carol"} and removed == []  # the first read
    path.write_text(f"bob:{encoded}\n")
    assert set(users.users()) == {"bob"}
    users.users()
    assert removed == [{"alice", "carol"}]


def test_users_file_emptied_for_a_rewrite_in_place_logs_nobody_out(tmp_path, encoded):
    path = tmp_path / "users"
    path.write_text(f"alice:{encoded}\nbob:{encoded}\n")
    removed: list[set[str]] = []
    users = UsersFile(path, on_removed=removed.append)
    assert set(users.users()) == {"alice", "bob"}
    path.write_text("")  # what an editor writing in place leaves for a moment
    assert set(users.users()) == {"alice", "bob"} and removed == []
    path.write_text(f"bob:{encoded}\n")
    assert set(users.users()) == {"bob"} and removed == [{"alice"}]


def test_passwd_command_writes_a_private_users_file(tmp_path, monkeypatch):
    path = tmp_path / "etc" / "users"
    monkeypatch.setattr("sys.stdin", _Lines(PASSWORD + "\n"))
    assert passwd.main(["--users-file", str(path), "carol"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert UsersFile(path).verify("carol", PASSWORD)
    assert passwd.main(["--users-file", str(path), "--delete", "carol"]) == 0
    assert not UsersFile(path).verify("carol", PASSWORD)


def test_passwd_command_refuses_short_passwords(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Lines("short\n"))
    with pytest.raises(SystemExit) as stopped:
        passwd.main(["--users-file", str(tmp_path / "users"), "carol"])
    assert stopped.value.code == 2
    assert not (tmp_path / "users").exists()


class _Lines:
    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self.text


def test_login_sessions_expire_when_idle(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("plugin_serialconsole.host.login.time.monotonic", lambda: clock[0])
    sessions = LoginSessions(idle_timeout=60)
    session_id, session = sessions.create("alice")
    clock[0] += 59
    assert sessions.find(session_id) is session
    clock[0] += 59  # seen 59 s ago: still alive
    assert sessions.find(session_id) is session
    clock[0] += 61
    assert sessions.find(session_id) is None


def test_logged_out_session_is_gone():
    sessions = LoginSessions(idle_timeout=60)
    session_id, _ = sessions.create("alice")
    sessions.drop(session_id)
    assert sessions.find(session_id) is None


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_basic_credentials_parsing():
    assert basic_credentials(basic("alice", "p:w")) == ("alice", "p:w")
    assert basic_credentials({"Authorization": "Basic !!!"}) is None
    assert basic_credentials({"Authorization": "Bearer x"}) is None
    assert basic_credentials({}) is None


def test_authenticator_cookie_session_needs_csrf_for_changes(users_file):
    sessions = LoginSessions(idle_timeout=60)
    auth = Authenticator(users_file.path, sessions)
    session_id, session = sessions.create("alice")
    cookie = {"Cookie": f"other=1; {COOKIE}={session_id}"}
    read = auth.identify("GET", cookie)
    assert read.user == "alice" and read.csrf_ok
    assert read.session_cookie == COOKIE and read.session_digest == session_digest(session_id)
    assert not auth.identify("POST", cookie).csrf_ok
    assert not auth.identify("DELETE", {**cookie, "X-CSRF-Token": "forged"}).csrf_ok
    assert auth.identify("POST", {**cookie, "X-CSRF-Token": session.csrf_token}).csrf_ok
    assert auth.identify("GET", {"Cookie": f"{COOKIE}=unknown"}) is None
    assert auth.identify("GET", {}) is None


def test_authenticator_basic_auth_has_no_session(users_file):
    auth = Authenticator(users_file.path, LoginSessions(idle_timeout=60))
    identity = auth.identify("POST", basic("alice", PASSWORD))
    assert identity.user == "alice" and identity.csrf_ok and identity.session_cookie is None
    assert auth.identify("GET", basic("alice", "nope")) is None


def test_users_file_gives_operators_groups_read_again_when_it_changes(users_file, encoded):
    path = users_file.path
    path.write_text(f"alice:{encoded}:ops,staff\nbob:{encoded}\ncarol:{encoded}:bad group\n")
    assert users_file.groups("alice") == {"ops", "staff"}
    assert users_file.groups("bob") == frozenset()
    assert users_file.groups("carol") == frozenset() and not users_file.verify("carol", PASSWORD)
    sessions = LoginSessions(idle_timeout=60)
    auth = Authenticator(path, sessions)
    session_id, _ = sessions.create("alice")
    assert auth.identify("GET", {"Cookie": f"{COOKIE}={session_id}"}).groups == {"ops", "staff"}
    assert auth.identify("GET", basic("alice", PASSWORD)).groups == {"ops", "staff"}
    path.write_text(f"alice:{encoded}:ops\n")
    assert auth.identify("GET", {"Cookie": f"{COOKIE}={session_id}"}).groups == {"ops"}


def test_only_auth_none_has_every_right(users_file):
    assert NoAuthentication().identify("GET", {}).all_rights
    auth = Authenticator(users_file.path, LoginSessions(idle_timeout=60))
    assert not auth.identify("GET", basic("alice", PASSWORD)).all_rights


def test_passwd_command_sets_groups_and_keeps_them_on_a_new_password(tmp_path, monkeypatch):
    path = tmp_path / "users"
    monkeypatch.setattr("sys.stdin", _Lines(PASSWORD + "\n"))
    assert passwd.main(["--users-file", str(path), "--groups", "ops,staff", "carol"]) == 0
    monkeypatch.setattr("sys.stdin", _Lines(PASSWORD + "!\n"))
    assert passwd.main(["--users-file", str(path), "carol"]) == 0
    assert UsersFile(path).groups("carol") == {"ops", "staff"}
    assert UsersFile(path).verify("carol", PASSWORD + "!")


class LoginEnds(list):
    """Records what an ``Authenticator`` tells of logins that ended."""

    def __call__(self, user: str, login_digest: str | None) -> None:
        self.append((user, login_digest))


def test_logout_ends_the_session_and_tells_its_digest(users_file):
    ended = LoginEnds()
    sessions = LoginSessions(idle_timeout=60)
    auth = Authenticator(users_file.path, sessions, ended)
    session_id, _ = sessions.create("alice")
    other_id, _ = sessions.create("alice")
    auth.log_out(session_id, "alice")
    assert ended == [("alice", session_digest(session_id))]
    assert auth.identify("GET", {"Cookie": f"{COOKIE}={session_id}"}) is None
    assert auth.identify("GET", {"Cookie": f"{COOKIE}={other_id}"}).user == "alice"


def test_an_operator_removed_from_the_users_file_is_logged_out_everywhere(tmp_path, encoded):
    path = tmp_path / "users"
    path.write_text(f"alice:{encoded}\ncarol:{encoded}\n")
    ended = LoginEnds()
    sessions = LoginSessions(idle_timeout=60)
    auth = Authenticator(path, sessions, ended)
    auth.check_users()
    carols = [sessions.create("carol")[0] for _ in range(2)]
    alices, _ = sessions.create("alice")
    path.write_text(f"alice:{encoded}\n")
    cookie = {"Cookie": f"{COOKIE}={carols[0]}"}
    assert auth.identify("GET", cookie) is None  # at once, before any periodic look
    assert ended == [("carol", None)]
    assert all(sessions.find(session_id) is None for session_id in carols)
    assert auth.identify("GET", {"Cookie": f"{COOKIE}={alices}"}).user == "alice"
    auth.check_users()
    assert ended == [("carol", None)]  # told once
