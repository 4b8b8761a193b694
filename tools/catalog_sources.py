"""Where the catalogs' strings come from: the server's messages (``N_()``, ``Nn_()`` with
plural forms), the pages' scripts (``_()``), their markup (``data-i18n`` elements,
``data-i18n-attr`` attributes) and the tab title in ``ui/config/tab-ext.xml``.
Build tool only (``tools/catalogs.py``): needs Babel, never imported by the plugin.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract

ROOT = Path(__file__).resolve().parents[1]
UI_DIR = ROOT / "ui"

# (text, relative path, line); a message with plural forms is (singular, plural)
Found = tuple[str | tuple[str, str], str, int]


class _MarkedText(HTMLParser):
    """Texts of ``data-i18n`` elements and values of ``data-i18n-attr`` attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, int]] = []
        self._open: list[tuple[str, int, list[str]]] = []  # (tag, line, text parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        for name in (values.get("data-i18n-attr") or "").split():
            if values.get(name):
                self.found.append((_normalized(values[name]), line))
        if "data-i18n" in values:
            self._open.append((tag, line, []))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, line, parts = self._open.pop()
            if text := _normalized("".join(parts)):
                self.found.append((text, line))


def _normalized(text: str) -> str:
    return " ".join(text.split())


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _from_python(path: Path) -> Iterator[Found]:
    with path.open("rb") as source:
        for line, text, _comments, _context in extract(
            "python", source, keywords={"N_": None, "_": None, "Nn_": (1, 2)}
        ):
            yield text, relative(path), line


def _from_javascript(path: Path) -> Iterator[Found]:
    with path.open("rb") as source:
        for line, text, _comments, _context in extract("javascript", source, keywords={"_": None}):
            yield text, relative(path), line


def _from_html(path: Path) -> Iterator[Found]:
    parser = _MarkedText()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    for text, line in parser.found:
        yield text, relative(path), line


def _from_tabs(path: Path) -> Iterator[Found]:
    for tab in ET.parse(path).getroot().iter("tab"):
        title = tab.findtext("title")
        if title:
            yield _normalized(title), relative(path), 0


def sources() -> Iterator[Found]:
    for path in sorted((ROOT / "plugin_serialconsole").rglob("*.py")):
        yield from _from_python(path)
    for path in sorted((UI_DIR / "js").glob("*.js")):
        yield from _from_javascript(path)
    for path in sorted(UI_DIR.glob("*.html")):
        yield from _from_html(path)
    yield from _from_tabs(UI_DIR / "config" / "tab-ext.xml")
