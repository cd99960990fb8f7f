// Small builders for the page's elements, given the document to build in (a test's stand-in
// works too). User text only ever goes in textContent.

/** A `tag` element with a class and a text, each optional. */
export function el(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A type="button" button, with an aria-label when the text alone does not say it. */
export function button(doc, className, text, label) {
  const node = el(doc, "button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

/** A <time> of the comment's `ts` (hours and minutes), or null when it has none. */
export function timeOf(doc, ts) {
  if (!(Number.isFinite(ts) && ts > 0)) return null;
  const when = new Date(ts);
  const time = el(doc, "time", "when", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = when.toISOString();
  return time;
}
