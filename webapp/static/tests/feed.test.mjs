import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Feed, HISTORY_PAGE, INITIAL_WAIT_MS } from "../feed.js";
import { HttpError } from "../http.js";
import { CommentReactions } from "../reactions.js";
import { Stream } from "../stream.js";
import { FakeTimers, settle } from "./fakedom.mjs";

const CONFIG = {
  topics: {
    comments: "live/videos/v1/comments",
    recent: "live/videos/v1/recent",
    state: "live/videos/v1/state",
    reactions: "live/videos/v1/reactions",
  },
  api: { video: "/api/videos/v1", comments: "/api/videos/v1/comments" },
};

function comment(seq, extra = {}) {
  return { id: `c${seq}`, seq, parent_id: null, user: { id: "u1", name: "Alice" }, text: `t${seq}`, ts: 1, reply_count: 0, reactions: {}, ...extra };
}

const bytes = (doc) => new TextEncoder().encode(JSON.stringify(doc));

/** An http.js stand-in: `answers[url]` is a body, or an Error to throw. */
function fakeHttp(answers) {
  const asked = [];
  return {
    asked,
    getJSON: async (url) => {
      asked.push(url);
      const answer = typeof answers === "function" ? answers(url) : answers[url];
      if (answer === undefined || answer instanceof Error) throw new HttpError(url, { status: 503 });
      return answer;
    },
  };
}

function setup(answers = {}) {
  const timers = new FakeTimers();
  const http = fakeHttp(answers);
  const stream = new Stream();
  const seen = { ops: [], states: [], live: [], changed: [] };
  const feed = new Feed({
    config: CONFIG,
    http,
    stream,
    reactions: new CommentReactions(),
    timers,
    log: { info: () => {} },
    hooks: {
      render: (ops) => seen.ops.push(...ops),
      reactionsChanged: (id) => seen.changed.push(id),
      chatState: (state) => seen.states.push(state),
      liveReactions: (video, retained) => seen.live.push([video, retained]),
    },
  });
  return { feed, http, stream, timers, seen };
}

const added = (ops) => ops.filter((o) => o.op === "add").map((o) => o.comment.id);

describe("Feed", () => {
  it("hands the topics' payloads to the stream, and ignores what is not JSON", () => {
    const t = setup();
    t.feed.receive(CONFIG.topics.recent, bytes({ seq: 2, comments: [comment(1), comment(2)] }), true);
    t.feed.receive(CONFIG.topics.comments, bytes({ events: [{ type: "comment", seq: 3, comment: comment(3) }] }), false);
    t.feed.receive(CONFIG.topics.comments, new TextEncoder().encode("not json"), false);
    t.feed.receive(CONFIG.topics.state, bytes({ chat: "closed", pinned: null }), true);
    t.feed.receive(CONFIG.topics.reactions, bytes({ video: { love: 2 }, comments: {} }), true);
    assert.deepEqual(added(t.seen.ops), ["c1", "c2", "c3"]);
    assert.deepEqual(t.seen.states, [{ chat: "closed", pinned: null }]);
    assert.deepEqual(t.seen.live, [[{ love: 2 }, true]]);
    assert.deepEqual(t.http.asked, []);
  });

  it("repairs a gap from the history, page after page while they are full", async () => {
    const full = Array.from({ length: HISTORY_PAGE }, (_, i) => comment(i + 2));
    const t = setup({
      [`${CONFIG.api.comments}?after_seq=1&limit=${HISTORY_PAGE}`]: { comments: full },
      [`${CONFIG.api.comments}?after_seq=${HISTORY_PAGE + 1}&limit=${HISTORY_PAGE}`]: { comments: [] },
    });
    t.feed.receive(CONFIG.topics.recent, bytes({ seq: 1, comments: [comment(1)] }), true);
    t.feed.receive(CONFIG.topics.comments, bytes({ events: [{ type: "comment", seq: 400, comment: comment(400) }] }), false);
    await settle();
    await settle();
    assert.deepEqual(t.http.asked, [
      `${CONFIG.api.comments}?after_seq=1&limit=200`,
      `${CONFIG.api.comments}?after_seq=201&limit=200`,
    ]);
    assert.equal(t.stream.lastSeq, 400);
    assert.equal(added(t.seen.ops).length, 1 + 1 + HISTORY_PAGE);
  });

  it("a failed history request is tried again later", async () => {
    let fail = true;
    const t = setup((url) => (fail ? new Error("down") : { comments: [comment(2)] }));
    t.feed.receive(CONFIG.topics.recent, bytes({ seq: 1, comments: [comment(1)] }), true);
    t.feed.receive(CONFIG.topics.comments, bytes({ events: [{ type: "comment", seq: 3, comment: comment(3) }] }), false);
    await settle();
    assert.equal(t.http.asked.length, 1);
    assert.equal(t.stream.lastSeq, 1);
    fail = false;
    t.timers.advance(1000); // the first retry is at most BASE_MS
    await settle();
    assert.equal(t.http.asked.length, 2);
    assert.equal(t.stream.lastSeq, 3);
  });

  it("without a `recent`, seeds from the newest page of history once the wait is over", async () => {
    const t = setup({
      [CONFIG.api.video]: { last_seq: 5, chat: "open" },
      [`${CONFIG.api.comments}?limit=50`]: { comments: [comment(4), comment(2)] },
    });
    t.feed.live(false);
    t.timers.advance(INITIAL_WAIT_MS - 1);
    assert.deepEqual(t.http.asked, []);
    t.timers.advance(1);
    await settle();
    assert.deepEqual(added(t.seen.ops), ["c2", "c4"], "oldest first");
    assert.equal(t.stream.lastSeq, 4);
    assert.deepEqual(t.stream.gap, [4, 5], "the rest up to the video's last_seq is asked for");
  });

  it("after a reconnect, backfills what came meanwhile", async () => {
    const t = setup({ [`${CONFIG.api.comments}?after_seq=1&limit=200`]: { comments: [comment(2)] } });
    t.feed.receive(CONFIG.topics.recent, bytes({ seq: 1, comments: [comment(1)] }), true);
    t.feed.live(true);
    await settle();
    assert.deepEqual(added(t.seen.ops), ["c1", "c2"]);
  });

  it("the video's state counts only until the `state` topic speaks", async () => {
    const t = setup({ [CONFIG.api.video]: { chat: "open", pinned: null } });
    await t.feed.loadVideoState();
    t.feed.receive(CONFIG.topics.state, bytes({ chat: "closed", pinned: null }), true);
    await t.feed.loadVideoState();
    assert.deepEqual(t.seen.states.map((s) => s.chat), ["open", "closed"]);
  });

  it("loads the replies of a thread that needs them", async () => {
    const t = setup({ [`${CONFIG.api.comments}?parent_id=c1&limit=200`]: { comments: [comment(2, { parent_id: "c1" })] } });
    t.feed.receive(CONFIG.topics.recent, bytes({ seq: 2, comments: [comment(1, { reply_count: 1 })] }), true);
    assert.equal(t.feed.needsReplies("c1"), true);
    await t.feed.loadReplies("c1");
    assert.deepEqual(t.seen.ops.filter((o) => o.op === "reply").map((o) => o.comment.id), ["c2"]);
    assert.equal(t.feed.needsReplies("c1"), false);
    await assert.rejects(setup().feed.loadReplies("c9"), HttpError);
  });
});
