"""Every message the plugin shows, by code, and their translation.

Codes are ``SCONS`` + 4 digits + severity: ``E`` for errors returned to clients, ``L`` for
activity (session ends, told to the console client and logged). Texts use ``%(name)s``
placeholders so gettext tools check them.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

DOMAIN = "serialconsole"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"


def N_(text: str) -> str:
    """Mark a string for extraction without translating it here."""
    return text


messages: dict[str, str] = {
    "SCONS0001E": N_("Guest %(guest)s does not exist."),
    "SCONS0002E": N_("Guest %(guest)s is not running (state: %(state)s)."),
    "SCONS0003E": N_(
        "Console %(device)s of guest %(guest)s is already in use. "
        'Send {"force": true} to take it over.'
    ),
    "SCONS0004E": N_("Guest %(guest)s has no console device %(device)s. Devices: %(devices)s."),
    "SCONS0005E": N_("Guest %(guest)s has no serial or console device."),
    "SCONS0006E": N_("The request body is not valid JSON: %(error)s"),
    "SCONS0007E": N_("Invalid request: %(error)s"),
    "SCONS0008E": N_("Guest %(guest)s has no open console session."),
    "SCONS0009E": N_("The console of guest %(guest)s could not be opened: %(error)s"),
    "SCONS0010E": N_("The libvirt connection %(uri)s is not available: %(error)s"),
    "SCONS0011E": N_("Resource not found: %(path)s"),
    "SCONS0012E": N_("Method %(method)s is not allowed here."),
    "SCONS0013E": N_("Internal error; the host log has the details."),
    "SCONS0014E": N_("The request body must be a JSON document (Content-Type: application/json)."),
    "SCONS0015E": N_("The request body is larger than %(limit)s bytes."),
    "SCONS0016E": N_("Authentication required."),
    "SCONS0017E": N_("HTTP error %(status)s."),
    "SCONS0019E": N_("This request needs the X-CSRF-Token header of your login session."),
    "SCONS0020E": N_("Wrong user name or password."),
    "SCONS0021E": N_('Log in with a JSON body {"username": "...", "password": "..."}.'),
    "SCONS0022E": N_("Too many failed logins. Try again in %(seconds)s seconds."),
    "SCONS0018E": N_(
        "Too many console sessions are open (the limit is %(limit)s). End one and try again."
    ),
    "SCONS0101L": N_("Console closed by the client."),
    "SCONS0102L": N_("Disconnected (Ctrl+Q)."),
    "SCONS0103L": N_("No activity for %(seconds)s seconds; console closed."),
    "SCONS0104L": N_("The guest stopped."),
    "SCONS0105L": N_("The host is shutting down."),
    "SCONS0106L": N_("The session was ended by an operator."),
    "SCONS0107L": N_("The console was taken over by another session."),
    "SCONS0108L": N_("No client connected within %(seconds)s seconds."),
    "SCONS0109L": N_("The guest console closed: %(error)s"),
    "SCONS0110L": N_("Console session of guest %(guest)s, device %(device)s opened."),
    "SCONS0111L": N_("Console session of guest %(guest)s, device %(device)s ended: %(reason)s"),
    # Reattach, viewers and transcripts (issue 8).
    "SCONS0023E": N_(
        "Console %(device)s of guest %(guest)s has as many viewers as allowed (%(limit)s)."
    ),
    # The browser UI (issue 14).
    "SCONS0024E": N_(
        "The web UI is not built on this host: run `make ui` in the plugin's source "
        "checkout (and set ui_dir to its ui/ directory if the plugin was installed from it)."
    ),
    "SCONS0112L": N_("Nobody reattached within %(seconds)s seconds; console closed."),
    "SCONS0113L": N_("This view fell behind: %(bytes)s bytes of output skipped."),
    # Limits on HTTP clients of the REST port (host.gate, host.framing; issue 13).
    "SCONS0040E": N_("The request did not arrive within %(seconds)s seconds."),
    "SCONS0041E": N_("The request header is larger than %(limit)s bytes."),
    "SCONS0042E": N_(
        "Too many connections from your address (the limit is %(limit)s). Close some and try again."
    ),
    "SCONS0043E": N_("The request's Content-Length or Transfer-Encoding is invalid: %(error)s"),
    "SCONS0044E": N_(
        "The server has as many connections open as it allows (%(limit)s). Try again later."
    ),
}

_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}([-_][A-Za-z0-9]{1,8})*$")


@lru_cache(maxsize=64)
def _translation(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def normalize_language(tag: str) -> str | None:
    """``pt-BR`` -> ``pt_BR``; None for anything that is not a language tag."""
    tag = tag.strip()
    if not _LANG_TAG.match(tag):
        return None
    parts = tag.replace("-", "_").split("_")
    return "_".join([parts[0].lower()] + [p.upper() for p in parts[1:]])


def _quality(params: list[str]) -> float | None:
    """The ``q`` of an Accept-Language entry (1 when absent), None when malformed."""
    for param in params:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return None
    return 1.0


def negotiate(accept_language: str | None, override: str | None = None) -> str:
    """Pick the language from ``?lang=`` or else the best ``Accept-Language`` entry."""
    ranked = _ranked(accept_language, override)
    return ranked[0] if ranked else DEFAULT_LANGUAGE


def _ranked(accept_language: str | None, override: str | None) -> list[str]:
    """Languages the client asks for, best first: a valid ``?lang=`` alone, else Accept-Language."""
    if override and (lang := normalize_language(override)):
        return [lang]
    ranked: list[tuple[float, str]] = []
    for item in (accept_language or "").split(","):
        tag, *params = item.split(";")
        quality = _quality(params)
        if quality is not None and quality > 0 and (lang := normalize_language(tag)):
            ranked.append((quality, lang))
    ranked.sort(key=lambda pair: -pair[0])
    return [lang for _, lang in ranked]


def choose_language(
    accept_language: str | None, override: str | None, available: Iterable[str]
) -> str:
    """The best language we have a catalog for (English when none fits).

    A tag matches its own catalog, else one of the same language (``de`` or ``de-AT`` ->
    ``de_DE``, ``pt`` -> ``pt_BR``): a near translation beats none.
    """
    have = sorted(set(available) | {DEFAULT_LANGUAGE})
    for wanted in _ranked(accept_language, override):
        if wanted in have:
            return wanted
        primary = wanted.split("_")[0]
        for candidate in have:
            if candidate.split("_")[0] == primary:
                return candidate
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=8)
def catalog_languages(directory: Path = LOCALE_DIR) -> frozenset[str]:
    """Languages with a compiled server catalog (``<lang>/LC_MESSAGES/<domain>.mo``).

    Read once per process, like the catalogs themselves (``_translation``)."""
    return frozenset(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))


def request_language(
    accept_language: str | None,
    lang_param: object = None,
    available: Iterable[str] | None = None,
) -> str:
    """The language for a request: ``?lang=`` (when a single string), else Accept-Language,
    among ``available`` (default: the compiled server catalogs)."""
    override = lang_param if isinstance(lang_param, str) else None
    return choose_language(
        accept_language, override, catalog_languages() if available is None else available
    )


class _Params(dict):
    """Message parameters; one that is missing shows as ``?`` instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def translate(code: str, params: dict[str, object] | None = None, language: str = "en") -> str:
    """The text of message ``code`` in ``language`` (English when untranslated)."""
    values = _Params(params or {})
    try:
        return _translation(language).gettext(messages[code]) % values
    except (TypeError, ValueError):  # a broken translation: fall back to English
        return messages[code] % values
