// The clock and timers the page's modules take, so that a test can pass its own.

/** The browser's (or node's) clock and timers. */
export const BROWSER_TIMERS = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id),
});

/** A promise that resolves after `ms` on `timers`. */
export function sleep(timers, ms) {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}
