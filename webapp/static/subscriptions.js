// Which of the video's topics the page holds, one MQTT session at a time, as plain data (no MQTT
// here: connection.js subscribes and unsubscribes as told, and passes the clock in).
//
// `recent` is a snapshot to join with, not a stream: it is the last 50 comments (11 KB), the
// bridge republishes it up to 4 times a second while comments come, and everything in it also
// comes as events on `comments`. A viewer that stayed subscribed would get it again and again:
// about half of its messages and some 30 times the bytes of the comment batches themselves. So
// every session subscribes to it with the other topics, takes the retained snapshot the broker
// sends at once (or stops waiting for one after SNAPSHOT_WAIT_MS: the page then reads the
// history), keeps the topic for RECENT_GRACE_MS more, and leaves it. The grace is there because
// the retained snapshot can be up to one republish interval (250 ms) old: a comment whose event
// went out on `comments` just before the page subscribed may be missing from it, and the fresh
// `recent` the bridge publishes for it is what brings it. Every `recent` of the grace is applied
// like the first (the stream dedupes by seq and id). A new session (after a reconnect) does the
// same again; gaps in between are repaired from the HTTP history, not from `recent`.
//
// `state` (small, rare) and `reactions` (the live counts themselves, republished at most every
// 250 ms while they change) stay subscribed: docs/client.md says why.
//
// The comment events come from `comments`, or from `sample` while the chat is faster than the page
// can show (volume.js decides, follow() switches): one of the two at a time, in every session.

export const SNAPSHOT_WAIT_MS = 1500;
export const RECENT_GRACE_MS = 1000;

/** When a session leaves `recent`: RECENT_GRACE_MS after its first snapshot came, or after the wait
 * for one is over (SNAPSHOT_WAIT_MS after subscribing), whichever is first. `firstSnapshotAt`:
 * null while none came. Times in ms, any clock. */
export function recentLeaveAt(subscribedAt, firstSnapshotAt = null) {
  const waitOver = subscribedAt + SNAPSHOT_WAIT_MS;
  const start = firstSnapshotAt === null ? waitOver : Math.min(firstSnapshotAt, waitOver);
  return start + RECENT_GRACE_MS;
}

/** The last part of a topic name ("live/videos/v1/recent" -> "recent"). */
export function leafOf(topic) {
  const at = topic.lastIndexOf("/");
  return at < 0 ? topic : topic.slice(at + 1);
}

export class Subscriptions {
  /** `topics`: {comments, recent, state, reactions, sample}, the video's topic names. */
  constructor(topics) {
    this.topics = topics;
    this.events = topics.comments; // where the comment events come from: `comments` or `sample`
    this.session = 0; // counts the sessions; 0: none yet
    this.held = new Set(); // the topics subscribed to in this session
    this.subscribedAt = null; // when this session's subscription was granted
    this.firstSnapshotAt = null; // when this session's first `recent` came
    this.snapshots = 0; // `recent` messages taken (received while held), all sessions
    this.received = {}; // leaf -> messages received, all sessions
    this.bytes = {}; // leaf -> payload bytes received, all sessions
    this.afterLeaving = 0; // `recent` messages that came after it was left (in flight meanwhile)
  }

  /** A new session is up: the topics to subscribe to. Returns them, in order. */
  connected() {
    this.session += 1;
    const all = [this.events, this.topics.recent, this.topics.state, this.topics.reactions];
    this.held = new Set(all);
    this.subscribedAt = null;
    this.firstSnapshotAt = null;
    return all;
  }

  /** The broker granted this session's subscription at `now` (ms): the wait for a snapshot starts. */
  subscribed(now) {
    this.subscribedAt = now;
  }

  /** The session ended (connection lost): nothing is held any more. */
  disconnected() {
    this.held = new Set();
  }

  holds(topic) {
    return this.held.has(topic);
  }

  /** When this session leaves `recent` (ms, the clock given to subscribed()), or null: not held,
   * or not subscribed yet. Call due() then. */
  get leaveAt() {
    if (this.subscribedAt === null || !this.held.has(this.topics.recent)) return null;
    return recentLeaveAt(this.subscribedAt, this.firstSnapshotAt);
  }

  /** A message came on `topic` (`size` bytes) at `now` (ms): returns the topics to leave now. A
   * `recent` received while held is a snapshot to apply, whether the first or one of the grace. */
  message(topic, size = 0, now = 0) {
    const leaf = leafOf(topic);
    this.received[leaf] = (this.received[leaf] ?? 0) + 1;
    this.bytes[leaf] = (this.bytes[leaf] ?? 0) + size;
    if (topic !== this.topics.recent) return [];
    if (!this.held.has(topic)) {
      this.afterLeaving += 1;
      return [];
    }
    this.snapshots += 1;
    if (this.firstSnapshotAt === null) this.firstSnapshotAt = now;
    return this.due(this.session, now);
  }

  /** A timer of session `session` fired at `now` (ms): the topics to leave now (`recent` once its
   * grace is over; nothing for an older session or before the time). */
  due(session, now) {
    const at = this.leaveAt;
    if (session !== this.session || at === null || now < at) return [];
    return this.leave(this.topics.recent);
  }

  /** Take the comment events from `topic` (`comments` or `sample`) from now on. Returns what to
   * do in this session (a session whose subscription is granted): {subscribe, unsubscribe}, topic
   * lists, empty when nothing changes. Subscribe first, then leave the other: the stream drops
   * what comes twice. A session not granted yet gets the change from the next call (catchUp()). */
  follow(topic, granted = true) {
    if (topic === this.topics.comments || topic === this.topics.sample) this.events = topic;
    return granted ? this.catchUp() : { subscribe: [], unsubscribe: [] };
  }

  /** What this granted session must subscribe to and leave to hold the topic of follow(). */
  catchUp() {
    if (this.held.size === 0 || this.held.has(this.events)) return { subscribe: [], unsubscribe: [] };
    const unsubscribe = [this.topics.comments, this.topics.sample].filter((t) => t && this.held.delete(t));
    this.held.add(this.events);
    return { subscribe: [this.events], unsubscribe };
  }

  leave(topic) {
    if (!this.held.delete(topic)) return [];
    return [topic];
  }
}
