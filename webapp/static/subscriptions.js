// Which of the video's topics the page holds, one MQTT session at a time, as plain data (no MQTT
// here: viewer.js subscribes and unsubscribes as told).
//
// `recent` is a snapshot to join with, not a stream: it is the last 50 comments (11 KB), the
// bridge republishes it up to 4 times a second while comments come, and everything in it also
// comes as events on `comments`. A viewer that stayed subscribed would get it again and again:
// about half of its messages and some 30 times the bytes of the comment batches themselves. So
// every session subscribes to it with the other topics, takes the retained snapshot the broker
// sends at once (or stops waiting for one after SNAPSHOT_WAIT_MS: the page then reads the
// history), and leaves it. A new session (after a reconnect) takes a fresh snapshot the same way;
// gaps in between are repaired from the HTTP history, not from `recent`.
//
// `state` (small, rare) and `reactions` (the live counts themselves, republished at most every
// 250 ms while they change) stay subscribed: docs/client.md says why.

export const SNAPSHOT_WAIT_MS = 1500;

/** The last part of a topic name ("live/videos/v1/recent" -> "recent"). */
export function leafOf(topic) {
  const at = topic.lastIndexOf("/");
  return at < 0 ? topic : topic.slice(at + 1);
}

export class Subscriptions {
  /** `topics`: {comments, recent, state, reactions}, the video's topic names. */
  constructor(topics) {
    this.topics = topics;
    this.session = 0; // counts the sessions; 0: none yet
    this.held = new Set(); // the topics subscribed to in this session
    this.snapshots = 0; // `recent` snapshots taken, one per session at most
    this.received = {}; // leaf -> messages received, all sessions
    this.bytes = {}; // leaf -> payload bytes received, all sessions
    this.afterLeaving = 0; // `recent` messages that came after it was left (in flight meanwhile)
  }

  /** A new session is up: the topics to subscribe to. Returns them, in order. */
  connected() {
    this.session += 1;
    const all = [this.topics.comments, this.topics.recent, this.topics.state, this.topics.reactions];
    this.held = new Set(all);
    return all;
  }

  /** The session ended (connection lost): nothing is held any more. */
  disconnected() {
    this.held = new Set();
  }

  holds(topic) {
    return this.held.has(topic);
  }

  /** A message came on `topic` (`size` bytes): returns the topics to leave now. */
  message(topic, size = 0) {
    const leaf = leafOf(topic);
    this.received[leaf] = (this.received[leaf] ?? 0) + 1;
    this.bytes[leaf] = (this.bytes[leaf] ?? 0) + size;
    if (topic !== this.topics.recent) return [];
    if (!this.held.has(topic)) {
      this.afterLeaving += 1;
      return [];
    }
    this.snapshots += 1;
    return this.leave(topic);
  }

  /** SNAPSHOT_WAIT_MS after session `session` subscribed: no snapshot came (a video without
   * comments yet); stop waiting for one. Returns the topics to leave now. */
  waitOver(session) {
    if (session !== this.session) return [];
    return this.leave(this.topics.recent);
  }

  leave(topic) {
    if (!this.held.delete(topic)) return [];
    return [topic];
  }
}
