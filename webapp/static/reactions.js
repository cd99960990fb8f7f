// Reaction counts as plain data: per-comment counts merged from comment payloads and the retained
// `reactions` topic, the reader's own presses in this session, and the live video totals that
// make hearts float. No DOM and no network here (commentlist.js, actions.js and livebar.js do those).
//
// Where counts come from, freshest first:
//   the retained `live/videos/{v}/reactions` topic: {"video_id", "video": {kind: n},
//     "comments": {comment_id: {kind: n}}}, which covers only the comments of the recent window
//     (kinds and comments with nothing are left out);
//   a comment's own `reactions` in an event, the `recent` snapshot or the history (as of then).
// A comment the topic once counted and now leaves out has no reactions left if it is still in
// the recent window; if it left the window, the topic no longer speaks for it and its last
// counts are kept. The page takes `recent` once per session and leaves it (subscriptions.js),
// so it keeps the window itself: the snapshot's comments, then every comment that comes later
// (live or from the history), the newest WINDOW_SIZE (the bridge's default) or as many as the
// snapshot had, whichever is more; a deleted comment leaves it.

export const KINDS = Object.freeze(["like", "love", "haha", "wow", "sad", "angry"]);
export const EMOJI = Object.freeze({ like: "👍", love: "❤️", haha: "😂", wow: "😮", sad: "😢", angry: "😡" });
export const LABELS = Object.freeze({ like: "Like", love: "Love", haha: "Haha", wow: "Wow", sad: "Sad", angry: "Angry" });
export const MAX_FLOATING = 12; // hearts on screen at once, at most
export const WINDOW_SIZE = 50; // comments in `recent`, unless a snapshot had more
const MAX_TRACKED = 5000;
const MAX_MINE = 2000;
const KIND_SET = new Set(KINDS);

/** {kind: n} with only known kinds and positive integer counts. */
export function cleanCounts(raw) {
  const out = {};
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return out;
  for (const kind of KINDS) {
    const n = raw[kind];
    if (Number.isSafeInteger(n) && n > 0) out[kind] = n;
  }
  return out;
}

export function totalOf(counts) {
  let n = 0;
  for (const kind of KINDS) n += counts[kind] ?? 0;
  return n;
}

export function sameCounts(a, b) {
  return KINDS.every((kind) => (a[kind] ?? 0) === (b[kind] ?? 0));
}

/** A count as a short label: 999, 1.2K, 12K, 1.5M. */
export function formatCount(n) {
  if (!Number.isFinite(n) || n < 0) return "0";
  if (n < 1000) return String(Math.floor(n));
  const [div, unit] = n < 1e6 ? [1e3, "K"] : [1e6, "M"];
  const value = n / div;
  const text = value < 10 ? (Math.floor(value * 10) / 10).toFixed(1).replace(/\.0$/, "") : String(Math.floor(value));
  return `${text}${unit}`;
}

const key = (id, kind) => `${id} ${kind}`;

/** Reaction counts of the comments on the page, and which of them the reader pressed. */
export class CommentReactions {
  /** `mine`: "commentId kind" strings remembered from earlier in this session. */
  constructor({ mine = [], limit = MAX_TRACKED } = {}) {
    this.limit = limit;
    this.counts = new Map(); // id -> {counts, fromTopic}
    this.window = null; // id -> seq of the comments in the recent window; null until a snapshot came
    this.windowSize = WINDOW_SIZE;
    this.mine = new Set(Array.isArray(mine) ? mine.filter((k) => typeof k === "string") : []);
  }

  remember(id, entry) {
    this.counts.delete(id);
    this.counts.set(id, entry);
    if (this.counts.size > this.limit) this.counts.delete(this.counts.keys().next().value);
  }

  /** A comment payload was seen: its counts stand unless the topic has spoken for it.
   * Returns whether the counts to show changed. */
  seen(id, raw) {
    if (typeof id !== "string" || !id) return false;
    const entry = this.counts.get(id);
    if (entry !== undefined && entry.fromTopic) return false;
    const counts = cleanCounts(raw);
    if (entry !== undefined && sameCounts(entry.counts, counts)) return false;
    this.remember(id, { counts, fromTopic: false });
    return true;
  }

  /** The latest `recent` snapshot's comments (or their ids), oldest first: the comments the
   * topic speaks for. */
  setWindow(comments) {
    const items = Array.isArray(comments) ? comments : [];
    this.window = new Map();
    this.windowSize = Math.max(WINDOW_SIZE, items.length);
    items.forEach((item, i) => {
      if (typeof item === "string") this.enterWindow(item, i - items.length); // older than any seq
      else if (item !== null && typeof item === "object") this.enterWindow(item.id, item.seq);
    });
  }

  /** A comment came after the snapshot (a live event, a history page): it is in the window now,
   * unless it is older than all of it; the oldest leaves when the window is full. */
  enterWindow(id, seq) {
    if (this.window === null || typeof id !== "string" || !id || !Number.isFinite(seq)) return;
    if (this.window.has(id)) return;
    if (this.window.size >= this.windowSize) {
      let oldest = null;
      for (const [other, s] of this.window) if (oldest === null || s < this.window.get(oldest)) oldest = other;
      if (seq < this.window.get(oldest)) return;
      this.window.delete(oldest);
    }
    this.window.set(id, seq);
  }

  /** A comment was deleted: the bridge's window no longer holds it. */
  leaveWindow(id) {
    if (this.window !== null) this.window.delete(id);
  }

  /** The `comments` of a reactions snapshot; returns the ids whose counts changed. */
  onSnapshot(comments) {
    const changed = [];
    const given = comments !== null && typeof comments === "object" && !Array.isArray(comments) ? comments : {};
    const listed = new Set();
    for (const [id, raw] of Object.entries(given)) {
      listed.add(id);
      const counts = cleanCounts(raw);
      const entry = this.counts.get(id);
      if (entry === undefined || !sameCounts(entry.counts, counts)) changed.push(id);
      this.remember(id, { counts, fromTopic: true });
    }
    if (this.window !== null) {
      for (const [id, entry] of this.counts) {
        if (listed.has(id) || !this.window.has(id) || totalOf(entry.counts) === 0) continue;
        entry.counts = {};
        entry.fromTopic = true;
        changed.push(id);
      }
    }
    return changed;
  }

  pressed(id, kind) {
    return this.mine.has(key(id, kind));
  }

  /** Counts to show: what the sources say, and at least 1 for a kind the reader pressed. */
  get(id) {
    const counts = { ...(this.counts.get(id)?.counts ?? {}) };
    for (const kind of KINDS) {
      if (this.pressed(id, kind) && !(counts[kind] > 0)) counts[kind] = 1;
    }
    return counts;
  }

  /** The reader pressed a reaction: flip it at once (the request follows). Returns whether it
   * is now pressed, i.e. whether to PUT (true) or DELETE (false). */
  toggle(id, kind) {
    if (!KIND_SET.has(kind)) throw new Error(`unknown reaction kind ${kind}`);
    const on = !this.pressed(id, kind);
    this.setMine(id, kind, on);
    const entry = this.counts.get(id) ?? { counts: {}, fromTopic: false };
    const n = (entry.counts[kind] ?? 0) + (on ? 1 : -1);
    const counts = { ...entry.counts };
    if (n > 0) counts[kind] = n;
    else delete counts[kind];
    this.remember(id, { counts, fromTopic: entry.fromTopic });
    return on;
  }

  /** The request for toggle(id, kind) failed: take the flip back. */
  undo(id, kind) {
    this.toggle(id, kind);
  }

  setMine(id, kind, on) {
    const k = key(id, kind);
    this.mine.delete(k);
    if (on) {
      this.mine.add(k);
      if (this.mine.size > MAX_MINE) this.mine.delete(this.mine.values().next().value);
    }
  }

  /** The presses to show from now on (another reader signed in: theirs, or none). */
  useMine(list) {
    this.mine = new Set(Array.isArray(list) ? list.filter((k) => typeof k === "string").slice(-MAX_MINE) : []);
  }

  /** What to remember for the rest of the session. */
  mineList() {
    return [...this.mine];
  }
}

/** The video's live reaction totals, and how many hearts a new snapshot should float. */
export class LiveTotals {
  constructor() {
    this.totals = null; // null until the first snapshot
    this.own = {}; // the reader's clicks not yet seen in a snapshot, by kind
  }

  /** The total to show: the topic's, plus the reader's clicks it does not count yet. */
  get total() {
    return totalOf(this.totals ?? {}) + totalOf(this.own);
  }

  /** The reader clicked: count it at once; its own heart is floated by the caller. */
  click(kind) {
    this.own[kind] = (this.own[kind] ?? 0) + 1;
  }

  /** The click's request failed. */
  failed(kind) {
    if ((this.own[kind] ?? 0) > 0) this.own[kind] -= 1;
    if (this.own[kind] === 0) delete this.own[kind];
  }

  /** A snapshot's `video` totals. A retained one (sent on subscribing) only sets the baseline;
   * a live one floats a heart per reaction added since, less the reader's own clicks (already
   * floated), at most `room`. Returns the kinds to float, mixed. */
  onSnapshot(raw, { retained = false, room = MAX_FLOATING } = {}) {
    const next = cleanCounts(raw);
    const prev = this.totals;
    this.totals = next;
    if (retained) {
      this.own = {};
      return [];
    }
    const fresh = {};
    for (const kind of KINDS) {
      const delta = Math.max(0, (next[kind] ?? 0) - (prev?.[kind] ?? 0));
      const own = this.own[kind] ?? 0;
      fresh[kind] = Math.max(0, delta - own);
      if (own > delta) this.own[kind] = own - delta;
      else delete this.own[kind];
    }
    return spread(fresh, Math.max(0, room));
  }
}

/** Up to `limit` kinds taken in turn from `counts` ({love: 3, like: 1} -> love, like, love, love). */
export function spread(counts, limit) {
  const left = { ...counts };
  const out = [];
  while (out.length < limit) {
    let took = false;
    for (const kind of KINDS) {
      if ((left[kind] ?? 0) > 0 && out.length < limit) {
        out.push(kind);
        left[kind] -= 1;
        took = true;
      }
    }
    if (!took) break;
  }
  return out;
}
