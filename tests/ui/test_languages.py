"""The pages and the REST reasons they show follow Accept-Language; ?lang= overrides it."""

from __future__ import annotations

import pytest

from .browser import (
    console_url,
    focus_terminal,
    open_console,
    status_text,
    wait_js,
    wait_state,
    wait_terminal_line,
)


def translated_list(page, host, extra: str = ""):
    page.goto(host.url + extra)
    wait_js(page, "!document.getElementById('guests').hidden", what="the guest table")
    return page


def test_portuguese_from_accept_language(host, open_context):
    context = open_context(locale="pt-BR")
    page = translated_list(context.new_page(), host)
    assert page.evaluate("document.documentElement.lang") == "pt-BR"
    assert page.title() == "Consoles seriais"
    assert page.get_by_role("heading", level=1).inner_text() == "Consoles seriais"
    assert page.get_by_role("button", name="Atualizar").is_visible()
    assert "O convidado não está em execução (desligado)." in page.inner_text("body")
    assert page.get_by_role("link", name="Abrir console serial0 de mock-vm").count() == 1

    page.goto(console_url(host))
    wait_state(page, "connected")
    assert status_text(page) == "Conectado"
    assert page.title() == "mock-vm – console serial"
    assert page.get_by_role("button", name="Reconectar").is_disabled()
    assert "Ctrl+Q desconecta." in page.inner_text("#hint")
    page.keyboard.press("Control+q")
    wait_state(page, "disconnected")
    # The console's own last line, in the language of the page that opened it.
    assert status_text(page) == "Desconectado: Desconectado (Ctrl+Q)."


def test_rest_reason_in_the_page_language(host, open_context):
    page = open_context(locale="pt-BR").new_page()
    page.goto(console_url(host, "mock-off"))
    wait_js(page, "document.getElementById('status-text').textContent.includes('mock-off')")
    assert status_text(page) == (
        "Desconectado: O convidado mock-off não está em execução (estado: shutoff)."
    )


def test_lang_parameter_overrides_accept_language(host, open_context):
    page = translated_list(open_context(locale="pt-BR").new_page(), host, "?lang=de-DE")
    assert page.evaluate("document.documentElement.lang") == "de-DE"
    assert page.title() == "Serielle Konsolen"
    # The override follows the links to the console page, and on to the REST API.
    link = page.get_by_role("link", name="Konsole serial0 von mock-vm öffnen")
    assert link.get_attribute("href").endswith("&lang=de-DE")
    page.goto(console_url(host, "mock-off", extra="&lang=zh-CN"))
    wait_js(page, "document.getElementById('status-text').textContent.includes('mock-off')")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert status_text(page) == "已断开：虚拟机 mock-off 未在运行（状态：shutoff）。"


def test_untranslated_language_falls_back_to_english(host, open_context):
    page = translated_list(open_context(locale="nl-NL").new_page(), host)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title() == "Serial consoles"


# The other seven languages of Wok and Kimchi: (browser locale, page language, the list's
# title, its Refresh button, the console page's "Connected" and its tab title's end).
WOK_LANGUAGES = [
    ("es-MX", "es-ES", "Consolas serie", "Actualizar", "Conectado", "consola serie"),
    ("fr-FR", "fr-FR", "Consoles série", "Actualiser", "Connecté", "console série"),
    ("it-IT", "it-IT", "Console seriali", "Aggiorna", "Connesso", "console seriale"),
    ("ja-JP", "ja-JP", "シリアルコンソール", "更新", "接続済み", "シリアルコンソール"),
    ("ko-KR", "ko-KR", "직렬 콘솔", "새로 고침", "연결됨", "직렬 콘솔"),
    (
        "ru-RU",
        "ru-RU",
        "Последовательные консоли",
        "Обновить",
        "Подключено",
        "последовательная консоль",
    ),
    ("zh-TW", "zh-TW", "序列主控台", "重新整理", "已連線", "序列主控台"),
]


@pytest.mark.parametrize(("locale", "lang", "title", "refresh", "connected", "tab"), WOK_LANGUAGES)
def test_guest_list_and_console_in_each_wok_language(
    host, open_context, locale, lang, title, refresh, connected, tab
):
    page = translated_list(open_context(locale=locale).new_page(), host)
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.title() == title
    assert page.get_by_role("button", name=refresh).is_visible()

    page.goto(console_url(host))
    wait_state(page, "connected")
    assert page.evaluate("document.documentElement.lang") == lang
    assert status_text(page) == connected
    assert page.title() == f"mock-vm – {tab}"


# Traditional Chinese with a character that is wide only since Unicode 9 (U+2705).
WIDE_LINE = "序列主控台 ✅"
WIDE_CELLS = 2 * 5 + 1 + 2


def test_wide_characters_take_two_cells_and_the_cursor_follows(host, open_context):
    page = open_console(open_context(locale="zh-TW").new_page(), host)
    focus_terminal(page)
    page.keyboard.insert_text(WIDE_LINE)
    wait_terminal_line(page, "# " + WIDE_LINE)
    cursor = page.evaluate(
        """() => {
      const buffer = window.serialconsole.term.buffer.active;
      const line = buffer.getLine(buffer.baseY + buffer.cursorY);
      const widths = [];
      for (let x = 0; x < buffer.cursorX; x++) widths.push(line.getCell(x).getWidth());
      return { x: buffer.cursorX, widths };
    }"""
    )
    assert cursor["x"] == len("# ") + WIDE_CELLS
    # Each wide character: a cell of width 2 and the empty cell it covers.
    assert cursor["widths"] == [1, 1] + [2, 0] * 5 + [1] + [2, 0]


def platform_fonts(page, selector: str) -> set[str]:
    """The fonts Chromium actually drew the text of ``selector``'s element with."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return {font["familyName"] for font in fonts}
    finally:
        cdp.detach()


# The terminal's own monospace CJK font (fonts-noto-cjk), not a proportional fallback, and the
# one whose Han or Hangul glyphs are those of the page's language.
CJK_TEXT = [
    ("zh-TW", "序列主控台", "Noto Sans Mono CJK TC"),
    ("ja-JP", "シリアル漢字", "Noto Sans Mono CJK JP"),
    ("ko-KR", "직렬 콘솔", "Noto Sans Mono CJK KR"),
]


@pytest.mark.parametrize(("locale", "text", "font"), CJK_TEXT)
def test_cjk_text_is_drawn_with_a_monospace_font_of_the_page_language(
    host, open_context, locale, text, font
):
    page = open_console(open_context(locale=locale).new_page(), host)
    focus_terminal(page)
    page.keyboard.insert_text(text)
    wait_terminal_line(page, "# " + text)
    row = page.evaluate("window.serialconsole.term.buffer.active.cursorY") + 1
    fonts = platform_fonts(page, f".xterm-rows > div:nth-child({row})")
    assert font in fonts, fonts
