// An ended video, replayed: a clock over the video's length (play/pause, a seek bar, `?t=S`),
// and its comments appearing as the clock passes their `pos_ms` (docs/contract.md, "Video time,
// and replay"). The comments come from GET /api/videos/{v}/replay a window at a time, ahead of
// the clock. ReplayClock and ReplayTimeline are pure (tests/replay.test.mjs); Replay wires them to
// the page's elements and timers.

import { el } from "./dom.js";

export const WINDOW_MS = 60000; // one request covers this much of the video (the API allows 600,000)
export const AHEAD_MS = 20000; // fetch the next window when the clock is this close to the end of what is known
export const MAX_SHOWN = 200; // comments on screen at once: the latest ones up to the clock
export const TICK_MS = 250; // how often the clock is redrawn while playing
export const BEFORE_MS = 30000; // a seek also fetches this much before the new position, to show what led to it

/** "m:ss", or "h:mm:ss" past an hour, of a position in milliseconds. */
export function formatPosition(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The start position a `?t=` value asks for, in ms (seconds, as YouTube's; `1m30s` too), or 0. */
export function startFromQuery(search, lengthMs) {
  const raw = new URLSearchParams(search).get("t");
  if (raw === null) return 0;
  const parts = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$/.exec(raw.trim());
  if (parts === null || raw.trim() === "") return 0;
  const [, h = "0", m = "0", s = "0"] = parts;
  const ms = Math.round((Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1000);
  return Math.min(Math.max(0, ms), lengthMs);
}

export const SEEK_STEP_MS = 1000; // the seek bar's step

/** Where a seek bar value goes: the bar moves in whole steps, so its last one (End, or dragged
 * to the right) falls short of a length that is not a whole number of steps; it means the end. */
export function seekTarget(value, lengthMs, stepMs = SEEK_STEP_MS) {
  return value + stepMs > lengthMs ? lengthMs : Math.max(0, value);
}

/** The length of an ended video in ms: from its start to its end (at least 1 s). */
export function lengthOf(video) {
  const started = Number(video.started_ts);
  const ended = Number(video.ended_ts);
  return Number.isFinite(started) && Number.isFinite(ended) ? Math.max(1000, ended - started) : 1000;
}

/** A play/pause clock over [0, length]: a position where it was last set, and when. */
export class ReplayClock {
  constructor(lengthMs, now) {
    this.length = lengthMs;
    this.now = now;
    this.base = 0;
    this.since = now();
    this.playing = false;
  }

  get position() {
    const moved = this.playing ? this.now() - this.since : 0;
    return Math.min(this.length, this.base + moved);
  }

  get atEnd() {
    return this.position >= this.length;
  }

  play() {
    if (this.playing) return;
    if (this.atEnd) this.base = 0; // playing again from the start, as players do
    this.since = this.now();
    this.playing = true;
  }

  pause() {
    if (!this.playing) return;
    this.base = this.position;
    this.playing = false;
  }

  seek(ms) {
    this.base = Math.min(Math.max(0, ms), this.length);
    this.since = this.now();
  }
}

const byPosition = (a, b) => a.pos_ms - b.pos_ms || a.seq - b.seq;

/** What the replay has fetched: the comments of [0, knownTo) in order, and which window to ask
 * for next. A window answered `truncated` is continued from its last `pos_ms`; comments met twice
 * (the continuation starts at a position already seen) are kept once. */
export class ReplayTimeline {
  constructor(lengthMs) {
    this.length = lengthMs;
    this.comments = [];
    this.ids = new Set();
    this.knownFrom = 0; // what is known is [knownFrom, knownTo)
    this.knownTo = 0;
  }

  /** The window to fetch for a clock at `position`, or null when what is known covers it. */
  nextWindow(position) {
    if (position < this.knownFrom || position > this.knownTo) {
      // a seek outside what is known: start over a little before it
      const from = Math.max(0, Math.floor(position) - BEFORE_MS);
      return { from, to: Math.min(this.length + 1, from + WINDOW_MS) };
    }
    if (this.knownTo > this.length || this.knownTo - position > AHEAD_MS) return null;
    return { from: this.knownTo, to: Math.min(this.length + 1, this.knownTo + WINDOW_MS) };
  }

  /** Take one replay response for `window`. */
  add(window, body) {
    const restart = window.from !== this.knownTo;
    if (restart) {
      this.comments = [];
      this.ids.clear();
      this.knownFrom = window.from;
    }
    const fresh = (body.comments ?? []).filter((c) => Number.isFinite(c.pos_ms) && !this.ids.has(c.id));
    for (const c of fresh) this.ids.add(c.id);
    this.comments.push(...fresh);
    this.comments.sort(byPosition);
    const got = body.comments ?? [];
    // truncated: known up to the last position it carried (that position is asked again, so
    // comments sharing it that were cut off come next; duplicates are dropped above)
    this.knownTo = body.truncated && got.length > 0 ? got[got.length - 1].pos_ms : window.to;
    if (body.truncated && got.length > 0 && this.knownTo <= window.from) this.knownTo = window.from + 1; // cannot stall
  }

  /** The latest `max` comments with pos_ms ≤ position, in order. */
  shownAt(position, max = MAX_SHOWN) {
    let end = 0;
    while (end < this.comments.length && this.comments[end].pos_ms <= position) end += 1;
    return this.comments.slice(Math.max(0, end - max), end);
  }
}

/** The replay on the page: #replay's controls and list, a clock, a timeline, the network. */
export class Replay {
  constructor({ doc, win, http, url, video, timers = win, now = () => win.performance.now() }) {
    this.doc = doc;
    this.http = http;
    this.url = url;
    this.timers = timers;
    this.length = lengthOf(video);
    this.clock = new ReplayClock(this.length, now);
    this.timeline = new ReplayTimeline(this.length);
    this.$ = (id) => doc.getElementById(id);
    this.ticking = null;
    this.fetching = false;
    this.shownIds = "";
    this.clock.seek(startFromQuery(win.location.search, this.length));
  }

  /** Show the replay (hiding the live stream) and start at `?t=`, paused until Play. */
  show() {
    const section = this.$("replay");
    section.hidden = false;
    this.$("replay-seek").max = String(this.length);
    this.$("replay-seek").step = String(SEEK_STEP_MS);
    this.$("replay-length").textContent = formatPosition(this.length);
    this.$("replay-toggle").addEventListener("click", () => this.toggle());
    this.$("replay-seek").addEventListener("input", (e) => this.seek(seekTarget(Number(e.target.value), this.length)));
    section.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "k") && e.target.tagName !== "BUTTON" && e.target.tagName !== "INPUT") {
        e.preventDefault();
        this.toggle();
      }
    });
    this.draw();
    this.fill();
  }

  toggle() {
    if (this.clock.playing) this.pause();
    else this.play();
  }

  play() {
    this.clock.play();
    if (this.ticking === null) this.ticking = this.timers.setInterval(() => this.tick(), TICK_MS);
    this.draw();
  }

  pause() {
    this.clock.pause();
    if (this.ticking !== null) this.timers.clearInterval(this.ticking);
    this.ticking = null;
    this.draw();
  }

  seek(ms) {
    this.clock.seek(ms);
    this.draw();
    this.fill();
  }

  tick() {
    if (this.clock.atEnd) this.pause();
    this.draw();
    this.fill();
  }

  /** Fetch what the clock needs next (one request at a time). */
  async fill() {
    if (this.fetching) return;
    const window = this.timeline.nextWindow(this.clock.position);
    if (window === null) return;
    this.fetching = true;
    try {
      const body = await this.http.getJSON(`${this.url}?from_ms=${window.from}&to_ms=${window.to}`);
      this.timeline.add(window, body);
    } catch {
      this.$("replay-status").textContent = "Could not load the comments of this moment; retrying.";
      await new Promise((resolve) => this.timers.setTimeout(resolve, 2000));
      this.fetching = false;
      this.fill();
      return;
    }
    this.fetching = false;
    this.$("replay-status").textContent = "";
    this.draw();
    this.fill();
  }

  draw() {
    const position = this.clock.position;
    const toggle = this.$("replay-toggle");
    toggle.textContent = this.clock.playing ? "Pause" : "Play";
    toggle.setAttribute("aria-pressed", String(this.clock.playing));
    const seek = this.$("replay-seek");
    seek.value = String(Math.floor(position));
    seek.setAttribute("aria-valuetext", `${formatPosition(position)} of ${formatPosition(this.length)}`);
    this.$("replay-position").textContent = formatPosition(position);
    const shown = this.timeline.shownAt(position);
    const ids = shown.map((c) => c.id).join(",");
    if (ids === this.shownIds) return;
    this.shownIds = ids;
    this.$("replay-empty").hidden = shown.length > 0;
    this.$("replay-stream").replaceChildren(...shown.map((c) => this.item(c)));
    const scroll = this.$("replay-scroll");
    scroll.scrollTop = scroll.scrollHeight;
  }

  item(comment) {
    const doc = this.doc;
    const li = el(doc, "li", comment.parent_id ? "comment replay-reply" : "comment");
    li.dataset.id = comment.id;
    li.dataset.pos = String(comment.pos_ms);
    const meta = el(doc, "p", "meta");
    meta.append(el(doc, "span", "author", comment.user?.name ?? ""), el(doc, "span", "when", formatPosition(comment.pos_ms)));
    li.append(meta, el(doc, "p", "text", comment.text));
    return li;
  }
}
