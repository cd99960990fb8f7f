// A minimal stand-in for the DOM, enough for the page's modules that build and update elements
// (no DOM library is installed). Selectors: a class (".a"), a tag ("button"), or a list of those
// ("a, .b"). Not a test file itself: the tests import it.

function matches(node, selector) {
  return selector.split(",").some((part) => {
    const s = part.trim();
    return s.startsWith(".") ? node.classList.contains(s.slice(1)) : node.tagName === s.toUpperCase();
  });
}

class ClassList {
  constructor(node) {
    this.node = node;
  }

  get names() {
    return this.node.className.split(/\s+/).filter(Boolean);
  }

  contains(name) {
    return this.names.includes(name);
  }

  add(name) {
    if (!this.contains(name)) this.node.className = [...this.names, name].join(" ");
  }

  remove(name) {
    this.node.className = this.names.filter((n) => n !== name).join(" ");
  }

  toggle(name, on = !this.contains(name)) {
    if (on) this.add(name);
    else this.remove(name);
    return on;
  }
}

export class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.classList = new ClassList(this);
    this.dataset = {};
    this.attributes = new Map();
    this.children = [];
    this.parentNode = null;
    this.ownText = "";
    this.hidden = false;
    this.disabled = false;
    this.id = "";
    this.style = { props: {}, setProperty: (k, v) => (this.style.props[k] = v) };
    this.listeners = {};
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    this.value = "";
  }

  get textContent() {
    return this.ownText + this.children.map((c) => c.textContent).join("");
  }

  set textContent(text) {
    for (const child of this.children) child.parentNode = null;
    this.children = [];
    this.ownText = String(text);
  }

  get childElementCount() {
    return this.children.length;
  }

  get nextElementSibling() {
    const siblings = this.parentNode?.children ?? [];
    return siblings[siblings.indexOf(this) + 1] ?? null;
  }

  get isConnected() {
    let node = this;
    while (node.parentNode) node = node.parentNode;
    return node === this.ownerDocument.body;
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  append(...nodes) {
    for (const node of nodes) this.insertBefore(node, null);
  }

  insertBefore(node, ref) {
    node.remove();
    const at = ref === null ? -1 : this.children.indexOf(ref);
    if (at < 0) this.children.push(node);
    else this.children.splice(at, 0, node);
    node.parentNode = this;
    return node;
  }

  replaceChildren(...nodes) {
    this.textContent = "";
    this.append(...nodes);
  }

  remove() {
    if (this.parentNode === null) return;
    const siblings = this.parentNode.children;
    siblings.splice(siblings.indexOf(this), 1);
    this.parentNode = null;
  }

  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  closest(selector) {
    for (let n = this; n; n = n.parentNode) if (n instanceof FakeElement && matches(n, selector)) return n;
    return null;
  }

  *descendants() {
    for (const child of this.children) {
      yield child;
      yield* child.descendants();
    }
  }

  querySelectorAll(selector) {
    return [...this.descendants()].filter((n) => matches(n, selector));
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }

  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }

  /** Call the listeners of `type` on this element and its ancestors, as a bubbling event would. */
  dispatch(type, extra = {}) {
    const event = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...extra };
    for (let n = this; n; n = n.parentNode) {
      event.currentTarget = n;
      for (const fn of n.listeners[type] ?? []) fn(event);
    }
    return event;
  }

  click() {
    return this.dispatch("click");
  }

  focus() {
    this.ownerDocument.activeElement = this;
  }
}

export class FakeDocument {
  constructor() {
    this.body = new FakeElement(this, "body");
    this.activeElement = this.body;
  }

  createElement(tag) {
    return new FakeElement(this, tag);
  }

  /** Add `<tag id=…>` elements to the body (or `parent`); returns the last. */
  add(tag, id, { parent = this.body, className = "" } = {}) {
    const node = this.createElement(tag);
    node.id = id;
    node.className = className;
    parent.append(node);
    return node;
  }

  getElementById(id) {
    return [...this.body.descendants()].find((n) => n.id === id) ?? null;
  }
}

/** Timers run by hand: `advance(ms)` fires what falls due, in order. */
export class FakeTimers {
  constructor(now = 1_000_000) {
    this.time = now;
    this.nextId = 1;
    this.pending = new Map(); // id -> {at, fn, every}
  }

  now() {
    return this.time;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + Math.max(0, ms), fn, every: null });
    return id;
  }

  setInterval(fn, ms) {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, fn, every: ms });
    return id;
  }

  clearTimeout(id) {
    this.pending.delete(id);
  }

  clearInterval(id) {
    this.pending.delete(id);
  }

  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.pending) if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
      if (next === null) break;
      const [id, t] = next;
      this.time = t.at;
      if (t.every === null) this.pending.delete(id);
      else t.at += t.every;
      t.fn();
    }
    this.time = end;
  }
}

/** Let pending promise callbacks run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
