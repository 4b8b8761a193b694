"""po/: the template is current, the translations complete and sound; language choice."""

from __future__ import annotations

import gettext
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("babel")
from babel.messages.catalog import Catalog  # noqa: E402

from plugin_serialconsole import i18n, languages  # noqa: E402
from plugin_serialconsole.control.http import prefers_html  # noqa: E402
from plugin_serialconsole.control.ui import find_ui_dir  # noqa: E402
from plugin_serialconsole.plugin import SerialConsolePlugin  # noqa: E402
from plugin_serialconsole.translation import english_forms  # noqa: E402
from tools import catalogs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# The ten languages of Wok and Kimchi (their po/LINGUAS).
REQUIRED = {
    "pt_BR",
    "zh_CN",
    "de_DE",
    "es_ES",
    "fr_FR",
    "it_IT",
    "ja_JP",
    "ko_KR",
    "ru_RU",
    "zh_TW",
}
# n -> plural form index, as each language's own gettext catalogs count.
PLURAL_FORMS = {
    "de_DE": {1: 0, 2: 1, 0: 1},
    "es_ES": {1: 0, 2: 1, 0: 1},
    "it_IT": {1: 0, 2: 1, 0: 1},
    "pt_BR": {0: 0, 1: 0, 2: 1},
    "fr_FR": {0: 0, 1: 0, 2: 1},
    "ru_RU": {1: 0, 21: 0, 2: 1, 4: 1, 22: 1, 0: 2, 5: 2, 11: 2, 12: 2, 14: 2, 111: 2, 112: 2},
    "ja_JP": {0: 0, 1: 0, 2: 0},
    "ko_KR": {0: 0, 1: 0, 2: 0},
    "zh_CN": {0: 0, 1: 0, 2: 0},
    "zh_TW": {0: 0, 1: 0, 2: 0},
}


def test_required_languages_are_listed():
    assert set(catalogs.languages()) >= REQUIRED


@pytest.mark.parametrize("lang", sorted(PLURAL_FORMS))
def test_plural_forms_header_counts_like_the_language(lang):
    translation = catalogs.read_catalog(catalogs.PO_DIR / f"{lang}.po", lang)
    assert translation.num_plurals == len(set(PLURAL_FORMS[lang].values()))
    plural = gettext.c2py(translation.plural_expr)
    assert {n: plural(n) for n in PLURAL_FORMS[lang]} == PLURAL_FORMS[lang]


def test_readme_languages_section_lists_every_catalog():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Languages\n", 1)[1].split("\n## ", 1)[0]
    assert [lang for lang in catalogs.languages() if f"`{lang}`" not in section] == []


def test_template_is_current_and_translations_complete_and_sound():
    assert catalogs.check() == []


def test_a_template_read_back_is_the_template_written(tmp_path):
    """Else `make pot` rewrites an unchanged template (and every .po's date) each time."""
    template = catalogs.extract_template()
    catalogs._write_po(tmp_path / "t.pot", template)
    read_back = catalogs.read_catalog(tmp_path / "t.pot")
    assert catalogs._fingerprint(read_back) == catalogs._fingerprint(template)


def test_every_server_message_is_in_the_template():
    template = catalogs.read_catalog(catalogs.POT)
    ids = {catalogs.forms(m.id) for m in template if m.id}
    assert {english_forms(message) for message in i18n.messages.values()} <= ids


def test_template_has_the_pages_strings():
    ids = {m.id for m in catalogs.extract_template() if m.id}
    for text in ("Reconnect", "Connected", "Disconnected: %(reason)s", "Open console"):
        assert text in ids
    assert "Serial console" in ids  # the tab title, from ui/config/tab-ext.xml


def catalog(*pairs: tuple[str, str]) -> Catalog:
    result = Catalog(locale="de_DE")
    for msgid, msgstr in pairs:
        result.add(msgid, msgstr)
    return result


def test_check_finds_a_msgid_missing_from_the_template():
    template = catalog(("Guest %(guest)s does not exist.", ""))
    translation = catalog(
        ("Guest %(guest)s does not exist.", "Gast %(guest)s existiert nicht."),
        ("Gone from the sources", "Weg"),
    )
    problems = catalogs.translation_problems(template, translation, "de_DE.po")
    assert problems == ["de_DE.po: msgid not in the template: 'Gone from the sources'"]


@pytest.mark.parametrize(
    "msgstr", ["Gast %(gast)s existiert nicht.", "Gast existiert nicht.", "Gast %s existiert."]
)
def test_check_finds_a_placeholder_mismatch(msgstr):
    template = catalog(("Guest %(guest)s does not exist.", ""))
    translation = catalog(("Guest %(guest)s does not exist.", msgstr))
    [problem] = catalogs.translation_problems(template, translation, "x.po")
    assert "placeholders differ" in problem


def test_broken_or_fuzzy_translations_are_not_compiled():
    good = catalog(("Reconnect", "Neu verbinden"))
    assert all(catalogs._usable(m) for m in good if m.id)
    broken = catalog(("Guest %(guest)s", "Gast %(name)s"))
    assert not any(catalogs._usable(m) for m in broken if m.id)
    fuzzy = catalog(("Reconnect", "Neu verbinden"))
    fuzzy["Reconnect"].flags.add("fuzzy")
    assert not any(catalogs._usable(m) for m in fuzzy if m.id)


SECONDS = ("Try again in %(seconds)s second.", "Try again in %(seconds)s seconds.")


def russian(*forms: str) -> Catalog:
    result = Catalog(locale="ru_RU")
    result.add(SECONDS, forms)
    return result


def test_check_counts_the_plural_forms_of_the_language():
    template = Catalog(locale="ru_RU")
    template.add(SECONDS, ("", "", ""))
    two_forms = russian("через %(seconds)s секунду", "через %(seconds)s секунд")
    [problem] = catalogs.translation_problems(template, two_forms, "ru_RU.po")
    assert problem == f"ru_RU.po: {SECONDS!r} has 2 plural forms, the language 3"


def test_check_finds_a_placeholder_mismatch_in_any_plural_form():
    template = Catalog(locale="ru_RU")
    template.add(SECONDS, ("", "", ""))
    translation = russian(
        "через %(seconds)s секунду", "через %(s)s секунды", "через %(seconds)s секунд"
    )
    [problem] = catalogs.translation_problems(template, translation, "ru_RU.po")
    assert "placeholders differ" in problem and "%(s)s" in problem


def test_a_plural_entry_missing_a_form_is_untranslated_and_not_compiled():
    template = Catalog(locale="ru_RU")
    template.add(SECONDS, ("", "", ""))
    partial = russian("через %(seconds)s секунду", "", "через %(seconds)s секунд")
    assert catalogs.untranslated(template, partial) == [SECONDS]
    assert not any(catalogs._usable(m) for m in partial if m.id)
    whole = russian(
        "через %(seconds)s секунду", "через %(seconds)s секунды", "через %(seconds)s секунд"
    )
    assert catalogs.untranslated(template, whole) == []
    assert all(catalogs._usable(m) for m in whole if m.id)


def test_untranslated_lists_empty_and_fuzzy():
    template = catalog(("A", ""), ("B", ""), ("C", ""))
    translation = catalog(("A", "a"), ("B", ""), ("C", "c"))
    translation["C"].flags.add("fuzzy")
    assert catalogs.untranslated(template, translation) == ["B", "C"]


def test_compiled_server_catalogs_translate():
    if not languages.catalog_languages():
        pytest.skip("catalogs not compiled (make ui)")
    assert languages.catalog_languages() >= REQUIRED
    assert i18n.translate("SCONS0104L", language="de_DE") == "Der Gast wurde beendet."
    assert i18n.translate("SCONS0001E", {"guest": "g"}, "pt_BR") == "O convidado g não existe."
    assert i18n.translate("SCONS0107L", language="zh_TW") == "主控台已被另一個工作階段接管。"
    tries = {
        n: i18n.translate(i18n.TOO_MANY_FAILED_LOGINS, {"seconds": n}, "ru_RU") for n in (1, 3, 5)
    }
    assert [text.split(" через ")[1] for text in tries.values()] == [
        "1 секунду.",
        "3 секунды.",
        "5 секунд.",
    ]
    assert i18n.translate(i18n.OUTPUT_SKIPPED, {"bytes": 1}, "de_DE").endswith(
        "1 Byte Ausgabe übersprungen."
    )
    assert i18n.translate("SCONS0001E", {"guest": "g"}, "ko_KR") == "게스트 g이(가) 없습니다."


@pytest.mark.parametrize(
    ("header", "override", "expected"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.5", None, "pt_BR"),
        ("pt", None, "pt_BR"),
        ("pt-PT", None, "pt_BR"),
        ("de", None, "de_DE"),
        ("de-AT, en;q=0.5", None, "de_DE"),
        ("zh-CN", None, "zh_CN"),
        ("fr, en;q=0.9, de;q=0.8", None, "en"),
        ("fr, de;q=0.8", None, "de_DE"),
        ("en-GB", None, "en"),
        ("fr", None, "en"),
        (None, None, "en"),
        ("de", "pt-br", "pt_BR"),
        ("de", "fr", "en"),
        ("de", "../x", "de_DE"),
    ],
)
def test_choose_language_among_available(header, override, expected):
    assert languages.choose_language(header, override, {"pt_BR", "de_DE", "zh_CN"}) == expected


WOK_LANGUAGES = REQUIRED  # their catalogs, what a header may name


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-TW", "zh_TW"),
        ("zh-Hant", "zh_TW"),
        ("zh-Hant-TW", "zh_TW"),
        ("zh-HK, en;q=0.5", "zh_TW"),
        ("zh-MO", "zh_TW"),
        ("zh", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("zh-Hans-TW", "zh_CN"),
        ("zh-SG", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("es-MX", "es_ES"),
        ("es-419, en;q=0.8", "es_ES"),
        ("fr-CA", "fr_FR"),
        ("fr-BE;q=0.9, de;q=0.5", "fr_FR"),
        ("it-CH", "it_IT"),
        ("ja", "ja_JP"),
        ("ko", "ko_KR"),
        ("ru-UA", "ru_RU"),
        ("en-US, ru;q=0.9", "en"),
        ("uk, ru;q=0.8", "ru_RU"),
        ("ja;q=0.5, ko;q=0.8", "ko_KR"),
    ],
)
def test_choose_language_among_wok_languages(header, expected):
    assert languages.choose_language(header, None, WOK_LANGUAGES) == expected


def test_traditional_chinese_reads_simplified_when_that_is_all_there_is():
    assert languages.choose_language("zh-Hant", None, {"zh_CN", "de_DE"}) == "zh_CN"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html", True),
        ("text/*, application/json;q=0.5", True),
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html", False),
        ("text/html;q=0.5, application/json", False),
        ("text/html;q=abc, */*;q=0.1", False),
    ],
)
def test_prefers_html(accept, html):
    assert prefers_html(accept) is html


def test_tab_ext_matches_the_plugin_info():
    [tab] = SerialConsolePlugin().wok_plugin_info().tabs
    root = ET.parse(ROOT / "ui" / "config" / "tab-ext.xml").getroot()
    [element] = root.findall("tab")
    assert element.findtext("title") == tab.title
    assert "/" + element.findtext("path") == tab.path


def test_ui_dir_comes_from_config_then_the_checkout(tmp_path):
    assert find_ui_dir(str(tmp_path)) == tmp_path
    assert find_ui_dir(None) == ROOT / "ui"
