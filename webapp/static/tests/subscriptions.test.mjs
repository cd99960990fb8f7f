import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { RECENT_GRACE_MS, SNAPSHOT_WAIT_MS, Subscriptions, leafOf, recentLeaveAt } from "../subscriptions.js";

const TOPICS = {
  comments: "live/videos/v1/comments",
  recent: "live/videos/v1/recent",
  state: "live/videos/v1/state",
  reactions: "live/videos/v1/reactions",
};

/** A session subscribed at `t` ms. */
function joined(t = 0) {
  const subs = new Subscriptions(TOPICS);
  subs.connected();
  subs.subscribed(t);
  return subs;
}

describe("the grace rule", () => {
  it("leaves recent RECENT_GRACE_MS after the first snapshot", () => {
    assert.equal(RECENT_GRACE_MS, 1000);
    assert.equal(recentLeaveAt(10_000, 10_020), 10_020 + RECENT_GRACE_MS);
  });

  it("without a snapshot, RECENT_GRACE_MS after the wait for one is over", () => {
    assert.equal(recentLeaveAt(10_000, null), 10_000 + SNAPSHOT_WAIT_MS + RECENT_GRACE_MS);
  });

  it("a first snapshot after the wait was over does not start the grace again", () => {
    assert.equal(recentLeaveAt(0, SNAPSHOT_WAIT_MS + 300), SNAPSHOT_WAIT_MS + RECENT_GRACE_MS);
  });
});

describe("subscriptions", () => {
  it("a session subscribes to the stream, recent, state and reactions", () => {
    const subs = new Subscriptions(TOPICS);
    assert.deepEqual(subs.connected(), [TOPICS.comments, TOPICS.recent, TOPICS.state, TOPICS.reactions]);
    assert.equal(subs.session, 1);
    assert.ok(subs.holds(TOPICS.recent));
    assert.equal(subs.leaveAt, null, "no time to leave before the subscription is granted");
  });

  it("keeps recent for the grace after its snapshot, takes every one of them, then leaves it", () => {
    const subs = joined(1000);
    assert.equal(subs.leaveAt, 1000 + SNAPSHOT_WAIT_MS + RECENT_GRACE_MS);
    assert.deepEqual(subs.message(TOPICS.state, 80, 1010), []);
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 1020), [], "the retained snapshot: recent is kept");
    assert.equal(subs.leaveAt, 1020 + RECENT_GRACE_MS);
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 1270), [], "a fresher one within the grace");
    assert.equal(subs.leaveAt, 1020 + RECENT_GRACE_MS, "the grace runs from the first one");
    assert.equal(subs.snapshots, 2, "both are taken");
    assert.deepEqual(subs.due(subs.session, 1020 + RECENT_GRACE_MS - 1), [], "not before its time");
    assert.ok(subs.holds(TOPICS.recent));
    assert.deepEqual(subs.due(subs.session, 1020 + RECENT_GRACE_MS), [TOPICS.recent]);
    assert.equal(subs.holds(TOPICS.recent), false);
    assert.equal(subs.leaveAt, null);
    assert.deepEqual(subs.due(subs.session, 5000), [], "once");
    assert.deepEqual(subs.message(TOPICS.comments, 300, 3000), []);
    assert.deepEqual(subs.message(TOPICS.reactions, 500, 3000), []);
    for (const topic of [TOPICS.comments, TOPICS.state, TOPICS.reactions]) assert.ok(subs.holds(topic), topic);
  });

  it("a recent that comes after the grace (its timer late) leaves at once", () => {
    const subs = joined(0);
    subs.message(TOPICS.recent, 11000, 10);
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 10 + RECENT_GRACE_MS), [TOPICS.recent]);
  });

  it("a recent that was on its way when the page left it is counted, not taken", () => {
    const subs = joined(0);
    subs.message(TOPICS.recent, 11000, 10);
    subs.due(subs.session, 10 + RECENT_GRACE_MS);
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 20 + RECENT_GRACE_MS), []);
    assert.equal(subs.afterLeaving, 1);
    assert.equal(subs.snapshots, 1);
    assert.deepEqual(subs.received, { recent: 2 });
    assert.deepEqual(subs.bytes, { recent: 22000 });
  });

  it("without a retained snapshot, leaves recent the grace after the wait for one", () => {
    const subs = joined(0);
    assert.deepEqual(subs.due(subs.session, SNAPSHOT_WAIT_MS), [], "the wait is over: the grace begins");
    assert.deepEqual(subs.message(TOPICS.recent, 11000, SNAPSHOT_WAIT_MS + 200), [], "one in the grace is taken");
    assert.equal(subs.snapshots, 1);
    assert.equal(subs.leaveAt, SNAPSHOT_WAIT_MS + RECENT_GRACE_MS);
    assert.deepEqual(subs.due(subs.session, SNAPSHOT_WAIT_MS + RECENT_GRACE_MS), [TOPICS.recent]);
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 5000), [], "later ones are not kept");
    assert.equal(subs.afterLeaving, 1);
  });

  it("a reconnect takes a fresh snapshot, with its own grace, and leaves recent again", () => {
    const subs = joined(0);
    const first = subs.session;
    subs.message(TOPICS.recent, 11000, 10);
    subs.due(first, 10 + RECENT_GRACE_MS);
    subs.disconnected();
    assert.equal(subs.holds(TOPICS.comments), false);
    assert.ok(subs.connected().includes(TOPICS.recent));
    subs.subscribed(60_000);
    assert.deepEqual(subs.due(first, 99_000), [], "the old session's timer does not touch the new one");
    assert.ok(subs.holds(TOPICS.recent));
    assert.deepEqual(subs.message(TOPICS.recent, 11000, 60_010), []);
    assert.equal(subs.leaveAt, 60_010 + RECENT_GRACE_MS);
    assert.deepEqual(subs.due(subs.session, 60_010 + RECENT_GRACE_MS), [TOPICS.recent]);
    assert.equal(subs.snapshots, 2);
  });

  it("leafOf", () => {
    assert.equal(leafOf("live/videos/v1/recent"), "recent");
    assert.equal(leafOf("recent"), "recent");
  });
});
