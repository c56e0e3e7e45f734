// Building the page's elements in one expression: el("p", { className: "muted", role: "status" }, "text").
// Text goes in as text nodes, never as HTML (names come from users and links).

/**
 * A new `tag` element with `props` set and `children` appended.
 * A key of `props` with a dash (aria-*, data-*) or "role" is set as an attribute, "style" as CSS
 * properties (`{ background: "red", "--genre-color": "#123" }`), any other key as the element's
 * property (id, className, type, htmlFor, textContent, hidden, ...). Undefined or null values
 * (props or children) are skipped; string children become text.
 * @param {string} tag
 * @param {Object<string, *>} [props]
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "style") for (const [property, css] of Object.entries(value)) node.style.setProperty(property, css);
    else if (name === "role" || name.includes("-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}
