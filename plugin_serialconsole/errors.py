"""The one exception type the plugin raises toward its clients."""

from __future__ import annotations

from plugin_serialconsole import i18n


class SerialConsoleError(Exception):
    """An error with a message code, its parameters and the HTTP status it maps to."""

    def __init__(self, code: str, status: int, **params: object) -> None:
        if code not in i18n.messages:
            raise ValueError(f"unknown message code {code}")
        super().__init__(code, params)
        self.code = code
        self.status = status
        self.params = params

    def reason(self, language: str = i18n.DEFAULT_LANGUAGE) -> str:
        return i18n.translate(self.code, self.params, language)

    def __str__(self) -> str:
        return f"{self.code}: {self.reason()}"


def authentication_required() -> SerialConsoleError:
    return SerialConsoleError(i18n.AUTHENTICATION_REQUIRED, 401)


def not_found(guest: str) -> SerialConsoleError:
    return SerialConsoleError(i18n.GUEST_NOT_FOUND, 404, guest=guest)


def console_in_use(guest: str, device: str) -> SerialConsoleError:
    return SerialConsoleError(i18n.CONSOLE_IN_USE, 409, guest=guest, device=device)


def console_unavailable(guest: str, error: str) -> SerialConsoleError:
    return SerialConsoleError(i18n.CONSOLE_OPEN_FAILED, 500, guest=guest, error=error)


def not_running(guest: str, state: str) -> SerialConsoleError:
    return SerialConsoleError(i18n.GUEST_NOT_RUNNING, 409, guest=guest, state=state)


def no_open_session(guest: str) -> SerialConsoleError:
    return SerialConsoleError(i18n.NO_OPEN_SESSION, 404, guest=guest)


def too_many_sessions(limit: int) -> SerialConsoleError:
    return SerialConsoleError(i18n.TOO_MANY_SESSIONS, 503, limit=limit)


def too_many_viewers(guest: str, device: str, limit: int) -> SerialConsoleError:
    return SerialConsoleError(i18n.TOO_MANY_VIEWERS, 503, guest=guest, device=device, limit=limit)
