// The pages' strings: English in the markup and the scripts, translated from the catalog the
// server picks by Accept-Language (or ?lang=, or Wok's wokLang cookie), compiled from po/
// (`make ui`).
// Untranslated strings stay English.

let messages = {};
let language = "en";

/** The translation of `text`, or `text` itself. */
export function _(text) {
  return Object.hasOwn(messages, text) && messages[text] ? messages[text] : text;
}

/** Fill `%(name)s` placeholders (the same syntax as the server's messages). */
export function format(text, params) {
  return text.replace(/%\((\w+)\)s/g, (_match, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : "?",
  );
}

/** The language the page shows, as a BCP 47 tag ("pt-BR"). */
export function currentLanguage() {
  return language;
}

/** The language Wok's pages chose (its `wokLang` cookie), if the page runs inside Wok. */
function wokLanguage() {
  const match = /(?:^|;\s*)wokLang=([^;]*)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]).replace(/"/g, "") : "";
}

/** `?lang=<x>` of the page's address (else Wok's language), to pass on to the REST API and
 * to other pages. */
export function languageQuery() {
  const lang = new URLSearchParams(location.search).get("lang") || wokLanguage();
  return lang ? "lang=" + encodeURIComponent(lang) : "";
}

/** Append the page's `?lang=` to a relative URL. */
export function withLanguage(url) {
  const query = languageQuery();
  if (!query) {
    return url;
  }
  return url + (url.includes("?") ? "&" : "?") + query;
}

function normalized(text) {
  return text.replace(/\s+/g, " ").trim();
}

/** Translate marked elements: `data-i18n` (the text) and `data-i18n-attr="title …"`. */
export function translateTree(root) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = _(normalized(element.textContent));
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const name of element.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const value = element.getAttribute(name);
      if (value) {
        element.setAttribute(name, _(normalized(value)));
      }
    }
  }
}

/** Fetch the catalog, translate the page, then show it. */
export async function loadCatalog() {
  try {
    const response = await fetch(withLanguage("i18n.json"), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.ok) {
      const catalog = await response.json();
      messages = catalog.messages || {};
      language = catalog.lang || "en";
    }
  } catch (error) {
    console.warn("no translations:", error);
  }
  document.documentElement.lang = language;
  translateTree(document);
  document.documentElement.classList.remove("i18n-pending");
}
