"""Which language a request gets: the compiled catalogs there are, and the client's choice
among them (``?lang=``, else ``Accept-Language``), with a near catalog when the exact one
is missing.

English, the language the messages are written in, is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

DOMAIN = "serialconsole"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"

_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}([-_][A-Za-z0-9]{1,8})*$")


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
        if nearest := _same_language(wanted, have):
            return nearest
    return DEFAULT_LANGUAGE


# Chinese is read in one of two scripts: the script subtag, or else the region, names the
# catalog (``zh-Hant``, ``zh-HK`` -> zh_TW; ``zh-Hans-TW`` -> zh_CN); plain ``zh`` is zh_CN.
_CATALOG_BY_SUBTAG = {
    "zh": {"HANS": "zh_CN", "HANT": "zh_TW", "TW": "zh_TW", "HK": "zh_TW", "MO": "zh_TW"},
}


def _same_language(wanted: str, have: list[str]) -> str | None:
    """A catalog of ``wanted``'s language, the one its script or region reads best."""
    primary, *subtags = wanted.split("_")
    by_subtag = _CATALOG_BY_SUBTAG.get(primary, {})
    for subtag in subtags:
        if subtag in by_subtag:
            if by_subtag[subtag] in have:
                return by_subtag[subtag]
            break
    return next((candidate for candidate in have if candidate.split("_")[0] == primary), None)


@lru_cache(maxsize=8)
def catalog_languages(directory: Path = LOCALE_DIR) -> frozenset[str]:
    """Languages with a compiled server catalog (``<lang>/LC_MESSAGES/<domain>.mo``).

    Read once per process, like the catalogs themselves (``translation._catalog``)."""
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
