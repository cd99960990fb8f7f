import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Feed } from "../feed.js";
import { CommentReactions } from "../reactions.js";
import { Stream } from "../stream.js";
import { Subscriptions } from "../subscriptions.js";
import {
  CALM_AFTER_S,
  CALM_PER_S,
  FULL,
  SAMPLE,
  SAMPLE_AFTER_S,
  SAMPLE_OVER_PER_S,
  VolumeRule,
} from "../volume.js";
import { FakeTimers, settle } from "./fakedom.mjs";

const T0 = 1_000_000; // a whole second of the clock

/** Feed `perS` comments a second to the rule for `seconds` seconds from `start` (ms), spread
 * evenly (10 messages a second); returns the modes it gave, one per second. */
function run(rule, start, seconds, perS) {
  const modes = [];
  for (let s = 0; s < seconds; s += 1) {
    let mode = rule.decide(start + s * 1000);
    for (let i = 0; i < 10; i += 1) {
      const n = Math.floor(((i + 1) * perS) / 10) - Math.floor((i * perS) / 10);
      mode = rule.observe(start + s * 1000 + i * 100, n);
    }
    modes.push(mode);
  }
  return modes;
}

describe("the volume rule", () => {
  it("has the documented numbers", () => {
    assert.deepEqual([SAMPLE_OVER_PER_S, SAMPLE_AFTER_S, CALM_PER_S, CALM_AFTER_S], [20, 3, 10, 10]);
  });

  it("switches to the sample after three seconds running over 20 a second", () => {
    const rule = new VolumeRule();
    const modes = run(rule, T0, 5, 30);
    assert.deepEqual(modes, [FULL, FULL, SAMPLE, SAMPLE, SAMPLE]);
  });

  it("does not switch at 20 a second, nor for a burst, nor for two busy seconds in three", () => {
    assert.deepEqual(run(new VolumeRule(), T0, 10, 20), Array(10).fill(FULL));
    const burst = new VolumeRule();
    assert.equal(burst.observe(T0, 400), FULL, "400 at once: one busy second");
    assert.deepEqual(run(burst, T0 + 1000, 10, 5), Array(10).fill(FULL));
    const gappy = new VolumeRule();
    const modes = [...run(gappy, T0, 2, 50), ...run(gappy, T0 + 2000, 1, 10), ...run(gappy, T0 + 3000, 2, 50)];
    assert.deepEqual(modes, Array(5).fill(FULL));
  });

  it("a second without messages breaks the run", () => {
    const rule = new VolumeRule();
    run(rule, T0, 2, 50);
    assert.equal(rule.decide(T0 + 2500), FULL);
    assert.deepEqual(run(rule, T0 + 3000, 2, 50), [FULL, FULL]);
    assert.deepEqual(run(rule, T0 + 5000, 1, 50), [SAMPLE]);
  });

  it("comes back only after ten calm seconds running, at 10 a second or less", () => {
    const rule = new VolumeRule();
    run(rule, T0, 3, 50);
    assert.equal(rule.mode, SAMPLE);
    // 15 a second (over the sample's cap, under the switch's 20): stays on the sample
    assert.deepEqual(run(rule, T0 + 3000, 20, 15), Array(20).fill(SAMPLE));
    // calm: 10 a second (kept + skipped)
    const calm = run(rule, T0 + 23000, 12, 10);
    assert.deepEqual(calm.slice(0, 10), Array(10).fill(SAMPLE));
    assert.equal(calm[10], FULL, "the 11th calm second (ten whole ones before it)");
  });

  it("quiet seconds count as calm: the clock alone switches back", () => {
    const rule = new VolumeRule();
    run(rule, T0, 3, 50);
    assert.equal(rule.decide(T0 + 3000 + CALM_AFTER_S * 1000 - 1), SAMPLE);
    assert.equal(rule.decide(T0 + 4000 + CALM_AFTER_S * 1000), FULL);
  });

  it("one busy second in the calm starts the calm again", () => {
    const rule = new VolumeRule();
    run(rule, T0, 3, 50);
    run(rule, T0 + 3000, 8, 0);
    run(rule, T0 + 11000, 1, 40);
    assert.deepEqual(run(rule, T0 + 12000, 10, 0), Array(10).fill(SAMPLE));
    assert.equal(rule.decide(T0 + 22000), FULL);
  });

  it("after coming back it takes three busy seconds again", () => {
    const rule = new VolumeRule({ calmAfterS: 2 });
    run(rule, T0, 3, 50);
    assert.equal(rule.decide(T0 + 6000), FULL);
    assert.deepEqual(run(rule, T0 + 6000, 4, 50), [FULL, FULL, FULL, SAMPLE]);
  });
});

const TOPICS = {
  comments: "live/videos/v1/comments",
  recent: "live/videos/v1/recent",
  state: "live/videos/v1/state",
  reactions: "live/videos/v1/reactions",
  sample: "live/videos/v1/sample",
};

describe("subscriptions follow one feed of comment events", () => {
  it("subscribes to the sample and leaves comments, then back; a new session takes the one followed", () => {
    const subs = new Subscriptions(TOPICS);
    assert.deepEqual(subs.follow(TOPICS.sample), { subscribe: [], unsubscribe: [] }, "not connected");
    assert.equal(subs.connected()[0], TOPICS.sample);
    assert.deepEqual(subs.follow(TOPICS.comments), { subscribe: [TOPICS.comments], unsubscribe: [TOPICS.sample] });
    assert.ok(subs.holds(TOPICS.comments) && !subs.holds(TOPICS.sample));
    assert.deepEqual(subs.follow(TOPICS.comments), { subscribe: [], unsubscribe: [] });
    assert.deepEqual(subs.follow(TOPICS.sample, false), { subscribe: [], unsubscribe: [] }, "not granted yet");
    assert.deepEqual(subs.catchUp(), { subscribe: [TOPICS.sample], unsubscribe: [TOPICS.comments] });
  });
});

const bytes = (doc) => new TextEncoder().encode(JSON.stringify(doc));
let nextSeq = 0;
const event = (seq) => ({ type: "comment", seq, comment: { id: `c${seq}`, seq, parent_id: null, user: { id: "u", name: "U" }, text: `t${seq}`, ts: 1, reply_count: 0 } });

function setup() {
  const timers = new FakeTimers(T0);
  const asked = [];
  const http = {
    asked,
    getJSON: async (url) => {
      asked.push(url);
      return { comments: [] };
    },
  };
  const stream = new Stream();
  const follows = [];
  const feed = new Feed({
    config: { topics: TOPICS, api: { video: "/api/videos/v1", comments: "/api/videos/v1/comments" } },
    http,
    stream,
    reactions: new CommentReactions(),
    timers,
    log: { info: () => {} },
    hooks: { render: () => {}, reactionsChanged: () => {}, chatState: () => {}, liveReactions: () => {}, follow: (m) => follows.push(m) },
  });
  feed.receive(TOPICS.recent, bytes({ seq: 0, comments: [] }), true);
  nextSeq = 0;
  return { feed, stream, timers, follows, asked };
}

/** `n` comments in one message on `topic` (on `sample`: every `keep`-th one, the rest skipped). */
function send(feed, topic, n, keep = 1) {
  const events = [];
  let skipped = 0;
  for (let i = 0; i < n; i += 1) {
    nextSeq += 1;
    if (nextSeq % keep === 0) events.push(event(nextSeq));
    else skipped += 1;
  }
  feed.receive(topic, bytes(topic === TOPICS.sample ? { events, skipped } : { events }), false);
}

describe("the feed follows the sample when the chat is too busy", () => {
  it("switches, repairs no gap on the sample, and catches up from the history when it comes back", async () => {
    const { feed, stream, timers, follows, asked } = setup();
    for (let s = 0; s < 3; s += 1) {
      for (let i = 0; i < 5; i += 1) {
        send(feed, TOPICS.comments, 6);
        timers.advance(200);
      }
    }
    assert.deepEqual(follows, [SAMPLE]);
    assert.ok(stream.sampled);
    feed.followed(SAMPLE);
    for (let i = 0; i < 20; i += 1) {
      send(feed, TOPICS.sample, 10, 5); // 2 kept, 8 skipped
      timers.advance(100);
    }
    await settle();
    assert.equal(stream.gap, null, "the seq left out are not a gap");
    assert.deepEqual(asked, [], "nothing fetched while sampled");
    assert.equal(stream.takeBackfill(), null);
    timers.advance(9_000);
    assert.deepEqual(follows, [SAMPLE], "still busy in the last seconds");
    timers.advance(3_000);
    assert.deepEqual(follows, [SAMPLE, FULL], "ten quiet seconds: every comment again");
    assert.ok(!stream.sampled);
    const last = stream.lastSeq;
    feed.followed(FULL);
    await settle();
    assert.deepEqual(asked, [`/api/videos/v1/comments?after_seq=${last}&limit=200`]);
  });

  it("a `comments` message in flight after the switch does not count for the sample's rule", () => {
    const { feed, timers, follows } = setup();
    for (let s = 0; s < 3; s += 1) {
      send(feed, TOPICS.comments, 30);
      timers.advance(1000);
    }
    assert.deepEqual(follows, [SAMPLE]);
    send(feed, TOPICS.sample, 0);
    for (let s = 0; s < 11; s += 1) {
      send(feed, TOPICS.comments, 30); // left already: not what the page follows
      timers.advance(1000);
    }
    assert.deepEqual(follows, [SAMPLE, FULL]);
  });
});

describe("the connection switches the topic of comment events", () => {
  /** Just enough of MQTT.js: subscribe() keeps its callback, grant() calls it. */
  function fakeMqtt() {
    const client = {
      handlers: {},
      subscribed: [],
      unsubscribed: [],
      grants: [],
      on(event, fn) {
        this.handlers[event] = fn;
      },
      subscribe(topics, opts, done) {
        this.subscribed.push(topics);
        this.grants.push(() => done(null, topics.map(() => ({ qos: 0 }))));
      },
      unsubscribe(topics) {
        this.unsubscribed.push(...topics);
      },
      publish() {},
      end() {},
    };
    return { client, connect: () => client };
  }

  it("subscribes to the sample, leaves comments once granted, and a follow() before the grant catches up", async () => {
    const { Connection } = await import("../connection.js");
    const mqtt = fakeMqtt();
    const c = mqtt.client;
    const done = [];
    const connection = new Connection({
      mqtt,
      urls: ["ws://x"],
      topics: TOPICS,
      timers: new FakeTimers(T0),
      log: { info: () => {} },
      hooks: { status: () => {}, say: () => {}, live: () => {}, message: () => {} },
    });
    connection.connect();
    c.handlers.connect();
    assert.equal(c.subscribed[0][0], TOPICS.comments);
    connection.follow(TOPICS.sample, () => done.push("sample")); // before the first grant
    assert.deepEqual(done, ["sample"], "no session up yet: the grant catches up");
    c.grants[0]();
    assert.deepEqual(c.subscribed[1], [TOPICS.sample]);
    assert.ok(!c.unsubscribed.includes(TOPICS.comments), "not before the sample is granted");
    c.grants[1]();
    assert.ok(c.unsubscribed.includes(TOPICS.comments));
    connection.follow(TOPICS.comments, () => done.push("comments"));
    assert.deepEqual(c.subscribed[2], [TOPICS.comments]);
    assert.deepEqual(done, ["sample"]);
    c.grants[2]();
    assert.deepEqual(done, ["sample", "comments"]);
    assert.ok(c.unsubscribed.includes(TOPICS.sample));
  });
});
