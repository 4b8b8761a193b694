// Building the pages' elements: text always goes in as text, never as markup.

/** A new `tag` element with `attributes` and, if given, `text`. */
export function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}
