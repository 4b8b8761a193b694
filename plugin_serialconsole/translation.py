"""How a message's text is marked for the catalogs and translated: gettext, never a code.

A text is marked with ``N_`` (extracted into ``po/`` by ``tools/catalogs.py``, translated
only when shown) or, where it counts something, with ``Nn_``: English singular and plural
and the parameter that holds the number, each language picking its own plural form. A
translated text gets its ``%(name)s`` parameters filled in; a parameter that is missing
shows as ``?``, and a broken translation falls back to English. Which message a code
names is ``i18n``'s; which catalog a request gets is ``languages``'.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from typing import NamedTuple

from plugin_serialconsole.languages import DOMAIN, LOCALE_DIR


def N_(text: str) -> str:
    """Mark a string for extraction without translating it here."""
    return text


class Plural(NamedTuple):
    """A message whose words follow a number: English singular and plural, and the name of
    the parameter that holds the number (each language has its own forms in its catalog)."""

    singular: str
    plural: str
    count: str


def Nn_(singular: str, plural: str, count: str) -> Plural:
    """Mark a message with plural forms for extraction; ``count`` names its number."""
    return Plural(singular, plural, count)


def english_forms(message: str | Plural) -> tuple[str, ...]:
    """A message's English texts: the one, or its singular and plural."""
    return (message.singular, message.plural) if isinstance(message, Plural) else (message,)


@lru_cache(maxsize=64)
def _catalog(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


class _Params(dict):
    """Message parameters; one that is missing shows as ``?`` instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def plural_count(value: object) -> int:
    """The number that picks a plural form: a whole number as it is; a fraction (``"0.5"``)
    or no number at all as 2, which every catalog reads as "more than one"."""
    try:
        number = float(str(value))
    except ValueError:
        return 2
    return int(number) if number.is_integer() and number >= 0 else 2


def _text(message: str | Plural, values: _Params, catalog: gettext.NullTranslations) -> str:
    if isinstance(message, Plural):
        count = plural_count(values[message.count])
        return catalog.ngettext(message.singular, message.plural, count)
    return catalog.gettext(message)


def translated(
    message: str | Plural, params: dict[str, object] | None = None, language: str = "en"
) -> str:
    """``message`` in ``language`` (English when untranslated), its parameters filled in."""
    values = _Params(params or {})
    try:
        return _text(message, values, _catalog(language)) % values
    except (TypeError, ValueError):  # a broken translation: fall back to English
        return _text(message, values, gettext.NullTranslations()) % values
