import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Subscriptions, leafOf } from "../subscriptions.js";

const TOPICS = {
  comments: "live/videos/v1/comments",
  recent: "live/videos/v1/recent",
  state: "live/videos/v1/state",
  reactions: "live/videos/v1/reactions",
};

describe("subscriptions", () => {
  it("a session subscribes to the stream, recent, state and reactions", () => {
    const subs = new Subscriptions(TOPICS);
    assert.deepEqual(subs.connected(), [TOPICS.comments, TOPICS.recent, TOPICS.state, TOPICS.reactions]);
    assert.equal(subs.session, 1);
    assert.ok(subs.holds(TOPICS.recent));
  });

  it("leaves recent once its snapshot came, and keeps the others", () => {
    const subs = new Subscriptions(TOPICS);
    subs.connected();
    assert.deepEqual(subs.message(TOPICS.state, 80), []);
    assert.deepEqual(subs.message(TOPICS.recent, 11000), [TOPICS.recent]);
    assert.equal(subs.holds(TOPICS.recent), false);
    assert.equal(subs.snapshots, 1);
    assert.deepEqual(subs.message(TOPICS.comments, 300), []);
    assert.deepEqual(subs.message(TOPICS.reactions, 500), []);
    for (const topic of [TOPICS.comments, TOPICS.state, TOPICS.reactions]) assert.ok(subs.holds(topic), topic);
  });

  it("a recent that was on its way when the page left it is counted, not taken again", () => {
    const subs = new Subscriptions(TOPICS);
    subs.connected();
    subs.message(TOPICS.recent, 11000);
    assert.deepEqual(subs.message(TOPICS.recent, 11000), []);
    assert.equal(subs.afterLeaving, 1);
    assert.equal(subs.snapshots, 1);
    assert.deepEqual(subs.received, { recent: 2 });
    assert.deepEqual(subs.bytes, { recent: 22000 });
  });

  it("without a retained snapshot, stops waiting for one after the wait", () => {
    const subs = new Subscriptions(TOPICS);
    const session = (subs.connected(), subs.session);
    assert.deepEqual(subs.waitOver(session), [TOPICS.recent]);
    assert.deepEqual(subs.waitOver(session), [], "once");
    assert.deepEqual(subs.message(TOPICS.recent), [], "the first live one after that is not kept either");
  });

  it("the wait of a snapshot that came leaves nothing", () => {
    const subs = new Subscriptions(TOPICS);
    subs.connected();
    subs.message(TOPICS.recent);
    assert.deepEqual(subs.waitOver(subs.session), []);
  });

  it("a reconnect takes a fresh snapshot and leaves recent again", () => {
    const subs = new Subscriptions(TOPICS);
    subs.connected();
    const first = subs.session;
    subs.message(TOPICS.recent);
    subs.disconnected();
    assert.equal(subs.holds(TOPICS.comments), false);
    assert.ok(subs.connected().includes(TOPICS.recent));
    assert.deepEqual(subs.waitOver(first), [], "the old session's wait does not touch the new one");
    assert.ok(subs.holds(TOPICS.recent));
    assert.deepEqual(subs.message(TOPICS.recent), [TOPICS.recent]);
    assert.equal(subs.snapshots, 2);
  });

  it("leafOf", () => {
    assert.equal(leafOf("live/videos/v1/recent"), "recent");
    assert.equal(leafOf("recent"), "recent");
  });
});
