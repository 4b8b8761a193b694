"""Message catalogs: extract the template, merge it into the translations, compile them.

    python -m tools.catalogs pot       po/serialconsole.pot from the sources; .po files merged
    python -m tools.catalogs compile   .mo for the server, ui/i18n/<lang>.json for the pages
    python -m tools.catalogs check     fail on a stale template or a broken translation

Where the strings come from: ``tools.catalog_sources``. Build tool only: needs Babel, never
imported by the plugin.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from tools.catalog_sources import ROOT, UI_DIR, relative, sources

PO_DIR = ROOT / "po"
DOMAIN = "serialconsole"
POT = PO_DIR / f"{DOMAIN}.pot"
LOCALE_DIR = ROOT / "plugin_serialconsole" / "locale"
PAGE_CATALOG_DIR = UI_DIR / "i18n"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extract_template() -> Catalog:
    catalog = Catalog(
        project="plugin_serialconsole",
        domain=DOMAIN,
        copyright_holder="the plugin_serialconsole authors",
        fuzzy=False,
    )
    for text, path, line in sources():
        if not text:
            continue
        flags = ("python-format",) if placeholders(text) else ()
        catalog.add(text, locations=[(path, line)], flags=flags)
    return catalog


def is_page_string(message) -> bool:
    return any(path.startswith("ui/") for path, _line in message.locations)


# --------------------------------------------------------------------------- files


def languages() -> list[str]:
    text = (PO_DIR / "LINGUAS").read_text(encoding="utf-8")
    return [word for line in text.splitlines() for word in line.split("#")[0].split()]


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def _write_po(path: Path, catalog: Catalog, **options) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, **options)
    path.write_bytes(buffer.getvalue())


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


def _fingerprint(catalog: Catalog) -> list[tuple]:
    """What the template says, in an order and form that survive writing and reading it back
    (the .pot lists a message's locations sorted, and a line of 0 as none)."""
    return sorted(
        (
            forms(m.id),
            tuple(sorted((path, line or 0) for path, line in m.locations)),
            tuple(sorted(m.flags)),
        )
        for m in catalog
        if m.id
    )


# --------------------------------------------------------------------------- checks


def forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """A msgid's or msgstr's texts: one, or one per plural form."""
    return (text,) if isinstance(text, str) else tuple(text)


def placeholders(text: str | tuple[str, ...]) -> set[str]:
    return {name for form in forms(text) for name in PLACEHOLDER.findall(form)}


def _translated(message) -> bool:
    return bool(message.string) and all(forms(message.string))


def translation_problems(template: Catalog, translation: Catalog, name: str) -> list[str]:
    """Msgids the template lacks, translations whose placeholders differ, and plural
    translations with another number of forms than the language has."""
    problems = []
    known = _ids(template)
    for message in translation:
        if not message.id:
            continue
        if message.id not in known:
            problems.append(f"{name}: msgid not in the template: {message.id!r}")
        expected = placeholders(message.id)
        for form in forms(message.string):
            if form and placeholders(form) != expected:
                problems.append(
                    f"{name}: placeholders differ in {message.id!r}: {form!r} has "
                    f"{sorted(placeholders(form))}, expected {sorted(expected)}"
                )
        if message.pluralizable and len(forms(message.string)) != translation.num_plurals:
            problems.append(
                f"{name}: {message.id!r} has {len(forms(message.string))} plural forms, "
                f"the language {translation.num_plurals}"
            )
    return problems


def untranslated(template: Catalog, translation: Catalog) -> list[str | tuple[str, ...]]:
    """Template msgids with no (or only a fuzzy) translation."""
    missing = []
    for message_id in sorted(_ids(template), key=forms):
        message = translation.get(message_id)
        if message is None or not _translated(message) or message.fuzzy:
            missing.append(message_id)
    return missing


def check() -> list[str]:
    template = read_catalog(POT)
    problems = []
    if _ids(extract_template()) != _ids(template):
        problems.append(f"{relative(POT)} is stale: run `make pot`")
    for lang in languages():
        path = PO_DIR / f"{lang}.po"
        if not path.is_file():
            problems.append(f"{relative(path)} is missing (listed in po/LINGUAS)")
            continue
        translation = read_catalog(path, lang)
        problems += translation_problems(template, translation, relative(path))
        missing = untranslated(template, translation)
        problems += [f"{relative(path)}: untranslated {message!r}" for message in missing]
    return problems


# --------------------------------------------------------------------------- commands


def update_template() -> None:
    """Write the template (only when its messages changed) and merge it into each .po."""
    template = extract_template()
    if not POT.is_file() or _fingerprint(read_catalog(POT)) != _fingerprint(template):
        _write_po(POT, template)
        print(f"wrote {relative(POT)}")
    template = read_catalog(POT)
    for lang in languages():
        path = PO_DIR / f"{lang}.po"
        if path.is_file():
            translation = read_catalog(path, lang)
        else:
            translation = Catalog(locale=lang, domain=DOMAIN, project="plugin_serialconsole")
        translation.update(template, update_header_comment=False)
        _write_po(path, translation)
        print(f"merged {relative(path)}: {len(untranslated(template, translation))} untranslated")


def _usable(message) -> bool:
    return bool(
        message.id
        and _translated(message)
        and not message.fuzzy
        and all(placeholders(form) == placeholders(message.id) for form in forms(message.string))
    )


def compile_catalogs(locale_dir: Path = LOCALE_DIR, page_dir: Path = PAGE_CATALOG_DIR) -> None:
    """Server .mo and page JSON per language; broken or fuzzy entries stay English."""
    page_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages():
        translation = read_catalog(PO_DIR / f"{lang}.po", lang)
        for message in list(translation):
            if message.id and any(forms(message.string)) and not _usable(message):
                print(f"{lang}: left untranslated (broken): {message.id!r}", file=sys.stderr)
                del translation[message.id]
        mo_path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with mo_path.open("wb") as target:
            write_mo(target, translation, use_fuzzy=False)
        # The pages translate single strings only (no plural forms).
        page = {
            m.id: m.string
            for m in translation
            if _usable(m) and is_page_string(m) and isinstance(m.id, str)
        }
        page_path = page_dir / f"{lang}.json"
        page_path.write_text(json.dumps(page, ensure_ascii=False, indent=0, sort_keys=True) + "\n")
    print(f"compiled {', '.join(languages())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["pot", "compile", "check"])
    args = parser.parse_args(argv)
    if args.command == "pot":
        update_template()
    elif args.command == "compile":
        compile_catalogs()
    else:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
