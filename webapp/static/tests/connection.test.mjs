import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  ANNOUNCE_EVERY_MS,
  ANNOUNCE_JITTER_MS,
  SUBSCRIBE_TIMEOUT_MS,
  Connection,
  connectOptions,
  nextAnnouncementIn,
  viewerClientId,
} from "../connection.js";
import { RECENT_GRACE_MS } from "../subscriptions.js";
import { FakeTimers } from "./fakedom.mjs";

const TOPICS = {
  comments: "live/videos/v1/comments",
  recent: "live/videos/v1/recent",
  state: "live/videos/v1/state",
  reactions: "live/videos/v1/reactions",
};

/** MQTT.js as the connection uses it: connect() gives a client whose events the test fires. */
class FakeMqtt {
  constructor() {
    this.clients = [];
  }

  connect(url, options) {
    const client = {
      url,
      options,
      handlers: {},
      subscribed: [],
      unsubscribed: [],
      ended: false,
      on(event, fn) {
        this.handlers[event] = fn;
      },
      fire(event, ...args) {
        this.handlers[event]?.(...args);
      },
      subscribe(topics, opts, done) {
        this.subscribed.push({ topics, opts });
        this.grant = (granted = topics.map(() => ({ qos: 0 }))) => done(null, granted);
      },
      unsubscribe(topics) {
        this.unsubscribed.push(...topics);
      },
      end(force) {
        this.ended = force;
      },
    };
    this.clients.push(client);
    return client;
  }

  get last() {
    return this.clients[this.clients.length - 1];
  }
}

function setup(urls = ["ws://a/mqtt", "ws://b/mqtt"]) {
  const mqtt = new FakeMqtt();
  const timers = new FakeTimers();
  const seen = { status: [], say: [], live: [], messages: [] };
  const connection = new Connection({
    mqtt,
    urls,
    topics: TOPICS,
    timers,
    clientId: () => "viewer-0123456789abcdef",
    log: { info: () => {} },
    hooks: {
      status: (state, text) => seen.status.push([state, text]),
      say: (message) => seen.say.push(message),
      live: (again) => seen.live.push(again),
      message: (topic, payload, retained) => seen.messages.push([topic, payload.toString(), retained]),
    },
  });
  return { connection, mqtt, timers, seen };
}

function goLive({ connection, mqtt }) {
  connection.connect();
  mqtt.last.fire("connect");
  mqtt.last.grant();
}

describe("Connection", () => {
  it("connects with MQTT.js's retry off and subscribes to the video's four topics", () => {
    const t = setup();
    t.connection.connect();
    assert.deepEqual(t.seen.status, [["connecting", "Connecting…"]]);
    const client = t.mqtt.last;
    assert.equal(client.url, "ws://a/mqtt");
    assert.deepEqual(client.options, connectOptions("viewer-0123456789abcdef"));
    assert.equal(client.options.reconnectPeriod, 0);
    assert.equal(client.options.timerVariant, "native");
    client.fire("connect");
    assert.deepEqual(client.subscribed, [
      { topics: [TOPICS.comments, TOPICS.recent, TOPICS.state, TOPICS.reactions], opts: { qos: 0 } },
    ]);
    assert.deepEqual(t.seen.live, []);
    client.grant();
    assert.deepEqual(t.seen.status.at(-1), ["live", "Live"]);
    assert.deepEqual(t.seen.live, [false]);
  });

  it("passes messages on, retained or not, and leaves `recent` after its grace", () => {
    const t = setup();
    goLive(t);
    const client = t.mqtt.last;
    client.fire("message", TOPICS.recent, Buffer.from("{}"), { retain: true });
    client.fire("message", TOPICS.comments, Buffer.from('{"events": []}'), { retain: false });
    assert.deepEqual(t.seen.messages, [
      [TOPICS.recent, "{}", true],
      [TOPICS.comments, '{"events": []}', false],
    ]);
    t.timers.advance(RECENT_GRACE_MS - 1);
    assert.deepEqual(client.unsubscribed, []);
    t.timers.advance(1);
    assert.deepEqual(client.unsubscribed, [TOPICS.recent]);
  });

  it("a lost connection fails over to the next broker after a countdown, and says so", () => {
    const t = setup();
    goLive(t);
    t.mqtt.last.fire("close");
    assert.equal(t.mqtt.clients[0].ended, true);
    assert.deepEqual(t.seen.say, ["Connection lost. Reconnecting."]);
    assert.match(t.seen.status.at(-1)[1], /^Reconnecting in \d s…$/);
    assert.equal(t.seen.status.at(-1)[0], "reconnecting");
    t.timers.advance(1000); // the first delay is 500-1000 ms
    assert.equal(t.mqtt.clients.length, 2);
    assert.equal(t.mqtt.last.url, "ws://b/mqtt");
    assert.deepEqual(t.seen.status.at(-1), ["reconnecting", "Reconnecting…"]);
    t.mqtt.last.fire("connect");
    t.mqtt.last.grant();
    assert.deepEqual(t.seen.live, [false, true]);
    assert.deepEqual(t.seen.say, ["Connection lost. Reconnecting.", "Live again."]);
  });

  it("a refused subscription or none in time counts as a lost connection", () => {
    const t = setup();
    t.connection.connect();
    t.mqtt.last.fire("connect");
    t.mqtt.last.grant([{ qos: 0 }, { qos: 128 }, { qos: 0 }, { qos: 0 }]);
    assert.equal(t.mqtt.clients[0].ended, true);
    assert.deepEqual(t.seen.live, []);
    assert.deepEqual(t.seen.say, [], "it was never live");
    t.timers.advance(1000);
    assert.equal(t.mqtt.clients.length, 2);
    t.timers.advance(SUBSCRIBE_TIMEOUT_MS);
    assert.equal(t.mqtt.clients[1].ended, true, "no CONNACK/SUBACK in time");
  });

  it("messages of a connection that was given up are ignored", () => {
    const t = setup();
    goLive(t);
    const old = t.mqtt.last;
    old.fire("close");
    old.fire("message", TOPICS.comments, Buffer.from("{}"), {});
    assert.deepEqual(t.seen.messages, []);
  });

  it("retryNow() does not wait for the delay, and does nothing while connected", () => {
    const t = setup();
    goLive(t);
    t.connection.retryNow();
    assert.equal(t.mqtt.clients.length, 1);
    t.mqtt.last.fire("close");
    t.connection.retryNow();
    assert.equal(t.mqtt.clients.length, 2);
    t.timers.advance(SUBSCRIBE_TIMEOUT_MS - 1);
    assert.equal(t.mqtt.clients.length, 2, "the retry that was due is not made as well");
  });
});

describe("viewerClientId", () => {
  it("is viewer- and 16 hex digits", () => {
    assert.equal(viewerClientId("01234567-89ab-cdef-0123-456789abcdef"), "viewer-0123456789abcdef");
    assert.match(viewerClientId(), /^viewer-[0-9a-f]{16}$/);
  });
});

describe("Connection announces itself (who is watching)", () => {
  function withPresence() {
    const mqtt = new FakeMqtt();
    const timers = new FakeTimers();
    const published = [];
    const connection = new Connection({
      mqtt,
      urls: ["ws://a/mqtt"],
      topics: { ...TOPICS, presence: "presence/videos/v1/" },
      timers,
      clientId: () => "viewer-0123456789abcdef",
      log: { info: () => {} },
      random: () => 0.5,
      hooks: { status: () => {}, say: () => {}, live: () => {}, message: () => {} },
    });
    connection.connect();
    const client = mqtt.last;
    client.publish = (topic, payload, opts) => published.push([topic, payload, opts]);
    return { connection, mqtt, timers, published, client };
  }

  it("once subscribed, on its own client id, then every 30 s ± 5 s, until the connection is lost", () => {
    const t = withPresence();
    t.client.fire("connect");
    assert.deepEqual(t.published, []); // not before the subscription is granted
    t.client.grant();
    const one = ["presence/videos/v1/viewer-0123456789abcdef", "", { qos: 0, retain: false }];
    assert.deepEqual(t.published, [one]);
    t.timers.advance(ANNOUNCE_EVERY_MS - 1);
    assert.equal(t.published.length, 1);
    t.timers.advance(1);
    assert.deepEqual(t.published, [one, one]);
    t.client.fire("close");
    t.timers.advance(5 * ANNOUNCE_EVERY_MS);
    assert.equal(t.published.length, 2); // the lost connection announces no more
  });

  it("spreads the announcements over 25 to 35 s", () => {
    assert.equal(nextAnnouncementIn(() => 0), ANNOUNCE_EVERY_MS - ANNOUNCE_JITTER_MS);
    assert.equal(nextAnnouncementIn(() => 0.5), ANNOUNCE_EVERY_MS);
    assert.ok(nextAnnouncementIn(() => 0.999999) < ANNOUNCE_EVERY_MS + ANNOUNCE_JITTER_MS);
    assert.equal(ANNOUNCE_EVERY_MS, 30000);
    assert.equal(ANNOUNCE_JITTER_MS, 5000);
  });

  it("stays silent without a presence topic", () => {
    const t = withPresence();
    t.connection.presence = null;
    t.client.fire("connect");
    t.client.grant();
    assert.deepEqual(t.published, []);
  });
});
