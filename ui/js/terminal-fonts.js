// The terminal's font list: a Latin monospace font first, then monospace fonts with CJK and
// Hangul glyphs where the system has them. Han characters are drawn differently in Japan,
// Korea, Taiwan and China, so the CJK font of the page's language comes first.

const LATIN = ['"DejaVu Sans Mono"', '"Liberation Mono"', '"Noto Sans Mono"'];
// [language tag prefix, its monospace CJK font], most specific first.
const CJK_BY_LANGUAGE = [
  ["ja", '"Noto Sans Mono CJK JP"'],
  ["ko", '"Noto Sans Mono CJK KR"'],
  ["zh-tw", '"Noto Sans Mono CJK TC"'],
  ["zh-hk", '"Noto Sans Mono CJK HK"'],
  ["zh", '"Noto Sans Mono CJK SC"'],
];
const OTHER_CJK = ['"Source Han Mono"', '"WenQuanYi Zen Hei Mono"', '"Droid Sans Fallback"'];

/** CSS font-family for a terminal on a page in `language` (a BCP 47 tag: "zh-TW"). */
export function terminalFontFamily(language) {
  const lang = language.toLowerCase();
  const own = CJK_BY_LANGUAGE.find(([prefix]) => lang === prefix || lang.startsWith(prefix + "-"));
  const cjk = [own, ...CJK_BY_LANGUAGE.filter((entry) => entry !== own)].filter(Boolean);
  return [...LATIN, ...cjk.map(([, font]) => font), ...OTHER_CJK, "monospace"].join(", ");
}
