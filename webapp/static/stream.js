// The live comments of one video as plain data: ordering, de-duplication, gap detection and
// repair, threads and the pinned comment. No DOM and no MQTT here (commentlist.js and feed.js do those).
//
// Inputs, each returning a list of render operations to apply in order:
//   onRecent(snapshot, {retained})  a `recent` payload {seq, comments: [...]}: retained (sent on
//                                   subscribing: repairs deletions missed) or live (one that was
//                                   on its way when the page left the topic: subscriptions.js)
//   onEvents(events)                the `events` of one message on the `comments` topic (or on
//                                   `sample`, after setSampled(true): its seq jumps are not gaps)
//   onBackfill(request, comments, limit)   an HTTP history page asked for by takeBackfill()
//   onState(state)                  the retained `state` payload (its `pinned`)
//   onReplies(parentId, comments)   the replies of a thread the reader opened
// Operations:
//   {op: "add", comment, count, before, source}  a top-level comment: insert it before the
//                                   comment whose id is `before` (null: at the end); `source` is
//                                   "recent", "live" or "backfill"
//   {op: "reply", comment, before}  a reply, in the opened thread of comment.parent_id
//   {op: "remove", id}              a comment or a reply leaves
//   {op: "count", id, count}        the number of replies of a top-level comment changed
//   {op: "pin", comment}            the pinned comment (null: nothing is pinned)
// takeBackfill() says which seq range to fetch from the history API, if any.

export const DEFAULT_MAX_COMMENTS = 500;
const MAX_REMEMBERED_IDS = 20000;
const MAX_KEPT_REPLIES = 50; // per thread not opened yet: live replies kept for when it opens
const MAX_KEPT_THREADS = 500;

/** A Map that forgets its oldest entries beyond `limit`. */
class BoundedMap {
  constructor(limit) {
    this.limit = limit;
    this.items = new Map();
  }

  has(key) {
    return this.items.has(key);
  }

  get(key) {
    return this.items.get(key);
  }

  set(key, value = true) {
    this.items.delete(key);
    this.items.set(key, value);
    if (this.items.size > this.limit) {
      this.items.delete(this.items.keys().next().value);
    }
  }

  add(key) {
    this.set(key, true);
  }

  delete(key) {
    this.items.delete(key);
  }
}

function isSeq(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

/** A comment as the page uses it, or null when the payload is not a usable comment. */
export function asComment(raw) {
  if (raw === null || typeof raw !== "object") return null;
  const { id, seq, parent_id: parentId, user, text, ts, reply_count: replyCount } = raw;
  if (typeof id !== "string" || id.length === 0 || id.length > 64) return null;
  if (!isSeq(seq) || typeof text !== "string") return null;
  const userId = user && typeof user.id === "string" ? user.id : "";
  const name = user && typeof user.name === "string" && user.name ? user.name : userId || "someone";
  return {
    id,
    seq,
    parent_id: typeof parentId === "string" && parentId ? parentId : null,
    user: { id: userId, name },
    text,
    ts: Number.isFinite(ts) ? ts : 0,
    reply_count: isSeq(replyCount) ? replyCount : 0,
  };
}

/** Index of the first item whose seq is greater than `seq` in an array sorted by seq. */
function upperBound(items, seq) {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Insert into an array sorted by seq; returns the id of the item now after it, or null. */
function insertSorted(items, item) {
  const at = upperBound(items, item.seq);
  items.splice(at, 0, item);
  return at + 1 < items.length ? items[at + 1].id : null;
}

function removeById(items, id) {
  const at = items.findIndex((item) => item.id === id);
  if (at >= 0) items.splice(at, 1);
}

export class Stream {
  constructor({ maxComments = DEFAULT_MAX_COMMENTS } = {}) {
    this.maxComments = maxComments;
    this.lastSeq = null; // every seq up to here is accounted for; null until the first snapshot
    this.known = []; // sorted, disjoint [from, to] ranges of seqs accounted for beyond lastSeq
    this.head = 0; // the highest seq known to exist
    this.shown = []; // top-level comments on screen, by seq: {id, seq, comment, count, countSeq, countedTo}
    this.byId = new Map(); // id -> entry of this.shown
    this.replies = new Map(); // reply id -> {parentId, seq}, for replies of shown comments
    this.threads = new Map(); // parent id -> sorted [{id, seq}] of an opened thread
    // parent id -> live replies that came while its thread was not open: the replies fetched
    // when it opens may have been read before those were approved, so they are added then.
    this.unopened = new BoundedMap(MAX_KEPT_THREADS);
    this.seen = new BoundedMap(MAX_REMEMBERED_IDS); // ids already shown or counted
    this.deleted = new BoundedMap(MAX_REMEMBERED_IDS); // id -> seq as of which it is gone
    this.pinned = null;
    this.pinSeq = -1;
    this.inflight = null; // the backfill being fetched
    this.resync = false; // after a reconnect: fetch everything after lastSeq
    this.sampled = false; // following the sampled feed: missing seqs were left out, not lost
  }

  get started() {
    return this.lastSeq !== null;
  }

  get size() {
    return this.shown.length;
  }

  // -- seq accounting -------------------------------------------------------------------------

  isAccounted(seq) {
    if (this.lastSeq !== null && seq <= this.lastSeq) return true;
    return this.known.some(([from, to]) => from <= seq && seq <= to);
  }

  markKnown(from, to) {
    if (to < from) return;
    if (this.lastSeq !== null) {
      from = Math.max(from, this.lastSeq + 1);
      if (to < from) return;
    }
    const merged = [];
    let range = [from, to];
    for (const [a, b] of this.known) {
      if (b + 1 < range[0] || range[1] + 1 < a) merged.push([a, b]);
      else range = [Math.min(a, range[0]), Math.max(b, range[1])];
    }
    merged.push(range);
    merged.sort((x, y) => x[0] - y[0]);
    this.known = merged;
    this.head = Math.max(this.head, to);
  }

  advance() {
    if (this.lastSeq === null) return;
    if (this.sampled) {
      this.lastSeq = Math.max(this.lastSeq, this.head); // nothing to repair (volume.js)
      this.known = [];
      return;
    }
    this.known = this.known.filter(([, to]) => to > this.lastSeq);
    while (this.known.length && this.known[0][0] <= this.lastSeq + 1) {
      this.lastSeq = Math.max(this.lastSeq, this.known.shift()[1]);
    }
  }

  /** Follow the sampled feed (`on`): a seq not seen was left out, nothing is fetched; or the full
   * stream again (call reconnected() once `comments` is subscribed: what came since is fetched). */
  setSampled(on) {
    this.sampled = on;
    if (on) this.advance();
  }

  /** Mark that the connection was lost and is back: whatever came meanwhile must be fetched. */
  reconnected() {
    if (this.lastSeq !== null) this.resync = true;
  }

  /** The next range to fetch ({afterSeq, untilSeq}, untilSeq null: up to now), or null. */
  takeBackfill() {
    if (this.inflight !== null || this.lastSeq === null || this.sampled) return null;
    if (this.resync) {
      this.resync = false;
      this.inflight = { afterSeq: this.lastSeq, untilSeq: null };
      return this.inflight;
    }
    if (this.head > this.lastSeq) {
      this.inflight = { afterSeq: this.lastSeq, untilSeq: this.head };
      return this.inflight;
    }
    return null;
  }

  backfillFailed(request) {
    if (this.inflight === request) this.inflight = null;
    if (request.untilSeq === null) this.resync = true;
  }

  /** The gap waiting to be repaired, for display and tests: [afterSeq, untilSeq] or null. */
  get gap() {
    if (this.lastSeq === null || this.head <= this.lastSeq) return null;
    return [this.lastSeq, this.head];
  }

  // -- comments -------------------------------------------------------------------------------

  /** `visibleAsOf`: the seq as of which the source says the comment is visible (a live event's,
   * a snapshot's), which may bring back a comment deleted (or held) earlier; null: it may not. */
  addComment(comment, countAsOf, source, ops, visibleAsOf = null) {
    const deletedAt = this.deleted.get(comment.id);
    if (deletedAt !== undefined) {
      if (visibleAsOf === null || visibleAsOf <= deletedAt) return;
      this.deleted.delete(comment.id); // approved again after being held
      this.seen.delete(comment.id);
    }
    if (comment.parent_id !== null) {
      this.addReply(comment, ops);
      return;
    }
    if (this.byId.has(comment.id) || this.seen.has(comment.id)) return;
    this.seen.add(comment.id);
    if (this.shown.length >= this.maxComments && comment.seq < this.shown[0].seq) return;
    // count is current as of countSeq, plus the replies counted since (the newest at countedTo)
    const entry = { id: comment.id, seq: comment.seq, comment, count: comment.reply_count, countSeq: countAsOf };
    entry.countedTo = countAsOf;
    const before = insertSorted(this.shown, entry);
    this.byId.set(entry.id, entry);
    ops.push({ op: "add", comment, count: entry.count, before, source });
    while (this.shown.length > this.maxComments) {
      this.forget(this.shown[0].id, ops);
    }
  }

  addReply(reply, ops) {
    const parent = this.byId.get(reply.parent_id);
    if (parent === undefined) return;
    if (!this.seen.has(reply.id)) {
      this.seen.add(reply.id);
      this.replies.set(reply.id, { parentId: parent.id, seq: reply.seq });
      // The parent's count is current as of countSeq: only later replies add to it.
      if (reply.seq > parent.countSeq) {
        parent.count += 1;
        parent.countedTo = Math.max(parent.countedTo, reply.seq);
        ops.push({ op: "count", id: parent.id, count: parent.count });
      }
    }
    this.addToThread(parent.id, reply, ops);
  }

  addToThread(parentId, reply, ops) {
    const thread = this.threads.get(parentId);
    if (thread === undefined) {
      this.keepForThread(parentId, reply);
      return;
    }
    if (thread.some((item) => item.id === reply.id)) return;
    const before = insertSorted(thread, { id: reply.id, seq: reply.seq });
    ops.push({ op: "reply", comment: reply, before });
  }

  keepForThread(parentId, reply) {
    const kept = this.unopened.get(parentId) ?? [];
    if (kept.some((c) => c.id === reply.id)) return;
    kept.push(reply);
    if (kept.length > MAX_KEPT_REPLIES) kept.shift();
    this.unopened.set(parentId, kept);
  }

  /** Drop a top-level comment from the screen (evicted or deleted) with its thread. */
  forget(id, ops) {
    const entry = this.byId.get(id);
    if (entry === undefined) return;
    removeById(this.shown, id);
    this.byId.delete(id);
    this.threads.delete(id);
    this.unopened.delete(id);
    for (const [replyId, info] of this.replies) {
      if (info.parentId === id) this.replies.delete(replyId);
    }
    ops.push({ op: "remove", id });
  }

  /** A comment or reply was deleted (or held) as of `seq`; `countable`: whether its parent's
   * count, if it is a reply, still includes it (not when the count comes from a snapshot). */
  remove(id, seq, ops, countable = true) {
    this.deleted.set(id, seq);
    if (this.byId.has(id)) {
      this.forget(id, ops);
    } else if (this.replies.has(id)) {
      const { parentId } = this.replies.get(id);
      this.replies.delete(id);
      const parent = this.byId.get(parentId);
      if (parent !== undefined && countable && seq > parent.countSeq && parent.count > 0) {
        parent.count -= 1;
        ops.push({ op: "count", id: parentId, count: parent.count });
      }
      const thread = this.threads.get(parentId);
      if (thread !== undefined && thread.some((item) => item.id === id)) {
        removeById(thread, id);
        ops.push({ op: "remove", id });
      }
    }
    if (this.pinned !== null && this.pinned.id === id) {
      this.pinned = null;
      ops.push({ op: "pin", comment: null });
    }
  }

  setPinned(comment, ops) {
    const next = comment !== null && !this.deleted.has(comment.id) ? comment : null;
    const same = next === null ? this.pinned === null : this.pinned !== null && this.pinned.id === next.id;
    this.pinned = next;
    if (!same || next !== null) ops.push({ op: "pin", comment: next });
  }

  // -- inputs ---------------------------------------------------------------------------------

  onEvents(events) {
    const ops = [];
    if (!Array.isArray(events)) return ops;
    const valid = events.filter((e) => e !== null && typeof e === "object" && isSeq(e.seq) && e.seq > 0);
    valid.sort((a, b) => a.seq - b.seq);
    for (const event of valid) {
      this.markKnown(event.seq, event.seq);
      // Comments are de-duplicated by id (a seq may be accounted for by a backfill that ran
      // before this comment was visible); deletes are idempotent; pins are ordered by seq.
      if (event.type === "comment") {
        const comment = asComment(event.comment);
        if (comment !== null) this.addComment(comment, event.seq, "live", ops, event.seq);
      } else if (event.type === "delete") {
        if (typeof event.id === "string") this.remove(event.id, event.seq, ops);
      } else if (event.type === "pin" || event.type === "unpin") {
        if (event.seq > this.pinSeq) {
          this.pinSeq = event.seq;
          this.setPinned(event.type === "pin" ? asComment(event.comment) : null, ops);
        }
      }
    }
    this.advance();
    return ops;
  }

  onRecent(snapshot, { retained = true } = {}) {
    const ops = [];
    if (snapshot === null || typeof snapshot !== "object" || !isSeq(snapshot.seq)) return ops;
    const seq = snapshot.seq;
    const comments = (Array.isArray(snapshot.comments) ? snapshot.comments : [])
      .map(asComment)
      .filter((c) => c !== null)
      .sort((a, b) => a.seq - b.seq);
    if (comments.length) {
      this.reconcile(comments, seq, retained, ops);
    }
    for (const comment of comments) {
      this.addComment(comment, seq, this.started ? "backfill" : "recent", ops, seq);
    }
    if (this.lastSeq === null) {
      // First snapshot: older history is not our business. If the snapshot's seq is past its
      // newest comment, the events in between (deletes, pins, or a lagging window) are fetched.
      this.lastSeq = comments.length ? comments[comments.length - 1].seq : seq;
    } else if (comments.length) {
      this.markKnown(comments[0].seq, comments[comments.length - 1].seq);
    }
    this.head = Math.max(this.head, seq);
    this.advance();
    return ops;
  }

  /** A snapshot is the whole truth between its oldest and newest comment: what we show in that
   * range and it lacks was deleted meanwhile (checked on retained snapshots, which follow a
   * (re)connection; live ones follow events we have seen); its reply counts are current as of
   * its seq. */
  reconcile(comments, seq, retained, ops) {
    const first = comments[0].seq;
    const last = comments[comments.length - 1].seq;
    const present = new Set(comments.map((c) => c.id));
    const inRange = (s) => first <= s && s <= last;
    if (retained) {
      for (const entry of [...this.shown]) {
        if (inRange(entry.seq) && !present.has(entry.id)) this.remove(entry.id, seq, ops, false);
      }
      for (const [id, info] of [...this.replies]) {
        if (inRange(info.seq) && !present.has(id)) this.remove(id, seq, ops, false);
      }
    }
    for (const comment of comments) {
      const entry = this.byId.get(comment.id);
      if (entry !== undefined && seq >= entry.countedTo) {
        entry.countSeq = seq;
        entry.countedTo = seq;
        if (entry.count !== comment.reply_count) {
          entry.count = comment.reply_count;
          ops.push({ op: "count", id: entry.id, count: entry.count });
        }
      }
    }
  }

  onBackfill(request, comments, limit) {
    const ops = [];
    if (this.inflight === request) this.inflight = null;
    const page = (Array.isArray(comments) ? comments : [])
      .map(asComment)
      .filter((c) => c !== null && c.seq > request.afterSeq)
      .sort((a, b) => a.seq - b.seq);
    const full = Array.isArray(comments) && comments.length >= limit;
    const newest = page.length ? page[page.length - 1].seq : request.afterSeq;
    // A page that is not full holds every comment after afterSeq that existed when it was read.
    const coveredTo = full ? newest : Math.max(newest, request.untilSeq ?? newest);
    const countAsOf = Math.max(coveredTo, this.head);
    for (const comment of page) this.addComment(comment, countAsOf, "backfill", ops);
    this.markKnown(request.afterSeq + 1, coveredTo);
    if (full && request.untilSeq === null) this.resync = true;
    this.advance();
    return ops;
  }

  onState(state) {
    const ops = [];
    if (state !== null && typeof state === "object" && "pinned" in state) {
      this.setPinned(asComment(state.pinned), ops);
    }
    return ops;
  }

  /** Whether opening this thread needs its replies fetched first. */
  needsReplies(parentId) {
    return this.byId.has(parentId) && !this.threads.has(parentId);
  }

  onReplies(parentId, comments) {
    const ops = [];
    const parent = this.byId.get(parentId);
    if (parent === undefined) return ops;
    if (!this.threads.has(parentId)) this.threads.set(parentId, []);
    const fetched = (Array.isArray(comments) ? comments : []).map(asComment);
    const live = this.unopened.get(parentId) ?? [];
    this.unopened.delete(parentId);
    const ids = new Set(fetched.filter((c) => c !== null).map((c) => c.id));
    const replies = [...fetched, ...live.filter((c) => !ids.has(c.id))]
      .filter((c) => c !== null && c.parent_id === parentId && !this.deleted.has(c.id))
      .sort((a, b) => a.seq - b.seq);
    for (const reply of replies) this.addReply(reply, ops);
    if (replies.length > parent.count) {
      parent.count = replies.length;
      ops.push({ op: "count", id: parentId, count: parent.count });
    }
    return ops;
  }

  count(id) {
    const entry = this.byId.get(id);
    return entry === undefined ? null : entry.count;
  }
}
