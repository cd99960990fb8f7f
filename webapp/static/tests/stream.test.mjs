import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Stream, asComment } from "../stream.js";

const PARENT = "01JPARENT000000000000000000";

function comment(seq, extra = {}) {
  return {
    id: `c${seq}`,
    video_id: "v1",
    seq,
    parent_id: null,
    user: { id: "u1", name: "Alice" },
    text: `comment ${seq}`,
    ts: 1764000000000 + seq,
    reply_count: 0,
    reactions: {},
    ...extra,
  };
}

const event = (seq, extra = {}) => ({ type: "comment", seq, comment: comment(seq, extra) });
const ids = (ops, op = "add") => ops.filter((o) => o.op === op).map((o) => o.comment?.id ?? o.id);
const shownIds = (stream) => stream.shown.map((e) => e.id);

function started(seq = 3) {
  const stream = new Stream();
  const comments = [];
  for (let s = 1; s <= seq; s += 1) comments.push(comment(s));
  stream.onRecent({ video_id: "v1", seq, comments });
  return stream;
}

describe("recent snapshot", () => {
  it("renders the retained comments oldest first and starts counting after its seq", () => {
    const stream = new Stream();
    const ops = stream.onRecent({ seq: 3, comments: [comment(2), comment(1), comment(3)] });
    assert.deepEqual(ids(ops), ["c1", "c2", "c3"]);
    assert.ok(ops.every((o) => o.before === null && o.source === "recent"));
    assert.equal(stream.lastSeq, 3);
    assert.equal(stream.takeBackfill(), null);
  });

  it("an empty snapshot starts at its seq", () => {
    const stream = new Stream();
    assert.deepEqual(stream.onRecent({ seq: 0, comments: [] }), []);
    assert.equal(stream.lastSeq, 0);
    assert.deepEqual(ids(stream.onEvents([event(1)])), ["c1"]);
    assert.equal(stream.takeBackfill(), null);
  });

  it("a snapshot whose seq is past its newest comment asks for the events in between", () => {
    const stream = new Stream();
    stream.onRecent({ seq: 5, comments: [comment(1), comment(2)] });
    assert.deepEqual(stream.takeBackfill(), { afterSeq: 2, untilSeq: 5 });
  });

  it("live events that came before the snapshot are kept and not shown twice", () => {
    const stream = new Stream();
    assert.deepEqual(ids(stream.onEvents([event(4)])), ["c4"]);
    const ops = stream.onRecent({ seq: 4, comments: [comment(3), comment(4)] });
    assert.deepEqual(ids(ops), ["c3"]);
    assert.equal(ops[0].before, "c4");
    assert.deepEqual(shownIds(stream), ["c3", "c4"]);
    assert.equal(stream.lastSeq, 4);
  });

  it("a later snapshot removes comments deleted meanwhile and updates reply counts", () => {
    const stream = started(3);
    const ops = stream.onRecent({ seq: 4, comments: [comment(1, { reply_count: 2 }), comment(3)] });
    assert.deepEqual(ids(ops, "remove"), ["c2"]);
    assert.deepEqual(ops.find((o) => o.op === "count"), { op: "count", id: "c1", count: 2 });
    assert.deepEqual(shownIds(stream), ["c1", "c3"]);
  });

  it("a live snapshot (after a batch) does not remove anything: events say what goes", () => {
    const stream = started(3);
    const ops = stream.onRecent({ seq: 4, comments: [comment(1), comment(3)] }, { retained: false });
    assert.deepEqual(ops, []);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3"]);
  });

  it("ignores what is not a snapshot", () => {
    const stream = new Stream();
    assert.deepEqual(stream.onRecent(null), []);
    assert.deepEqual(stream.onRecent({ seq: "3", comments: [] }), []);
    assert.equal(stream.started, false);
  });
});

describe("live events", () => {
  it("appends in seq order, whatever the order inside a message", () => {
    const stream = started(1);
    const ops = stream.onEvents([event(3), event(2)]);
    assert.deepEqual(ids(ops), ["c2", "c3"]);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3"]);
    assert.equal(stream.lastSeq, 3);
  });

  it("shows a comment seen twice once", () => {
    const stream = started(1);
    assert.deepEqual(ids(stream.onEvents([event(2)])), ["c2"]);
    assert.deepEqual(stream.onEvents([event(2)]), []);
    assert.deepEqual(stream.onEvents([event(1)]), []);
    assert.deepEqual(shownIds(stream), ["c1", "c2"]);
  });

  it("inserts a late comment before the newer ones", () => {
    const stream = started(1);
    stream.onEvents([event(3)]);
    const ops = stream.onBackfill(stream.takeBackfill(), [comment(2)], 200);
    assert.deepEqual(ops, [{ op: "add", comment: asComment(comment(2)), count: 0, before: "c3", source: "backfill" }]);
  });

  it("skips malformed events and comments", () => {
    const stream = started(1);
    const ops = stream.onEvents([
      null,
      { type: "comment", seq: "2", comment: comment(2) },
      { type: "comment", seq: 2, comment: { id: 5 } },
      { type: "future-kind", seq: 3 },
      event(4),
    ]);
    assert.deepEqual(ids(ops), ["c4"]);
    assert.equal(stream.onEvents("nope").length, 0);
  });
});

describe("gaps", () => {
  it("a gap in seq asks for exactly the missing range, once", () => {
    const stream = started(3);
    stream.onEvents([event(7)]);
    const request = stream.takeBackfill();
    assert.deepEqual(request, { afterSeq: 3, untilSeq: 7 });
    assert.equal(stream.takeBackfill(), null, "one backfill at a time");
    stream.onEvents([event(8)]);
    const ops = stream.onBackfill(request, [comment(4), comment(6)], 200);
    assert.deepEqual(ids(ops), ["c4", "c6"]);
    assert.equal(stream.lastSeq, 8, "seq 5 was no comment (a delete, a pin): the page read says so");
    assert.equal(stream.takeBackfill(), null);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3", "c4", "c6", "c7", "c8"]);
  });

  it("a full page asks for the next one", () => {
    const stream = started(1);
    stream.onEvents([event(10)]);
    const first = stream.takeBackfill();
    stream.onBackfill(first, [comment(2), comment(3)], 2);
    assert.equal(stream.lastSeq, 3);
    assert.deepEqual(stream.takeBackfill(), { afterSeq: 3, untilSeq: 10 });
  });

  it("a failed backfill is asked for again", () => {
    const stream = started(1);
    stream.onEvents([event(3)]);
    const request = stream.takeBackfill();
    stream.backfillFailed(request);
    assert.deepEqual(stream.takeBackfill(), { afterSeq: 1, untilSeq: 3 });
  });

  it("after a reconnect fetches everything after the last seq seen, page by page", () => {
    const stream = started(2);
    stream.reconnected();
    const request = stream.takeBackfill();
    assert.deepEqual(request, { afterSeq: 2, untilSeq: null });
    stream.onBackfill(request, [comment(3), comment(4)], 2);
    const next = stream.takeBackfill();
    assert.deepEqual(next, { afterSeq: 4, untilSeq: null });
    const ops = stream.onBackfill(next, [comment(5)], 2);
    assert.deepEqual(ids(ops), ["c5"]);
    assert.equal(stream.takeBackfill(), null);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3", "c4", "c5"]);
  });

  it("comments arriving live during a backfill are shown once, in order", () => {
    const stream = started(2);
    stream.reconnected();
    const request = stream.takeBackfill();
    stream.onEvents([event(5), event(6)]);
    stream.onBackfill(request, [comment(3), comment(4), comment(5)], 200);
    stream.onEvents([event(6), event(7)]);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    assert.equal(stream.lastSeq, 7);
    assert.equal(stream.takeBackfill(), null);
  });

  it("a snapshot after a reconnect covers its range and asks only for what it lacks", () => {
    const stream = started(2);
    stream.onRecent({ seq: 9, comments: [comment(6), comment(7), comment(9)] });
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c6", "c7", "c9"]);
    const request = stream.takeBackfill();
    assert.deepEqual(request, { afterSeq: 2, untilSeq: 9 });
    stream.onBackfill(request, [comment(3), comment(6), comment(7), comment(9)], 200);
    assert.deepEqual(shownIds(stream), ["c1", "c2", "c3", "c6", "c7", "c9"]);
    assert.equal(stream.lastSeq, 9);
  });

  it("nothing is fetched before the first snapshot", () => {
    const stream = new Stream();
    stream.onEvents([event(5)]);
    stream.reconnected();
    assert.equal(stream.takeBackfill(), null);
  });
});

describe("deletes", () => {
  it("removes a comment, and a later copy of it does not bring it back", () => {
    const stream = started(2);
    const ops = stream.onEvents([{ type: "delete", seq: 3, id: "c1" }]);
    assert.deepEqual(ops, [{ op: "remove", id: "c1" }]);
    stream.onEvents([event(1)]);
    stream.onRecent({ seq: 3, comments: [comment(1), comment(2)] });
    assert.deepEqual(shownIds(stream), ["c2"]);
  });

  it("a comment held (a delete event) and approved again (a later comment event) comes back", () => {
    const stream = started(2);
    stream.onEvents([{ type: "delete", seq: 3, id: "c1" }]);
    stream.onBackfill({ afterSeq: 0, untilSeq: 3 }, [comment(1)], 200); // stale read: stays gone
    assert.deepEqual(shownIds(stream), ["c2"]);
    const ops = stream.onEvents([{ type: "comment", seq: 4, comment: comment(1) }]);
    assert.deepEqual(ops, [{ op: "add", comment: asComment(comment(1)), count: 0, before: "c2", source: "live" }]);
    assert.deepEqual(shownIds(stream), ["c1", "c2"]);
  });

  it("a delete of something never seen only counts its seq", () => {
    const stream = started(1);
    assert.deepEqual(stream.onEvents([{ type: "delete", seq: 2, id: "zzz" }]), []);
    assert.equal(stream.lastSeq, 2);
  });
});

describe("pinned comment", () => {
  it("pin and unpin events, in seq order", () => {
    const stream = started(2);
    let ops = stream.onEvents([{ type: "pin", seq: 3, comment: comment(1) }]);
    assert.deepEqual(ops, [{ op: "pin", comment: asComment(comment(1)) }]);
    ops = stream.onEvents([{ type: "unpin", seq: 4 }]);
    assert.deepEqual(ops, [{ op: "pin", comment: null }]);
    ops = stream.onEvents([{ type: "pin", seq: 3, comment: comment(1) }]);
    assert.deepEqual(ops, [], "an older pin event does not win");
  });

  it("the retained state's pinned, and a deleted pinned comment goes", () => {
    const stream = started(2);
    assert.deepEqual(stream.onState({ chat: "open", pinned: comment(2) }), [
      { op: "pin", comment: asComment(comment(2)) },
    ]);
    assert.deepEqual(stream.onEvents([{ type: "delete", seq: 3, id: "c2" }]), [
      { op: "remove", id: "c2" },
      { op: "pin", comment: null },
    ]);
    assert.deepEqual(stream.onState({ pinned: null }), []);
    assert.deepEqual(stream.onState({ chat: "open" }), [], "no pinned field: nothing to say");
  });
});

describe("threads", () => {
  const reply = (seq, parent = "c1") => event(seq, { parent_id: parent });

  it("a live reply counts under its parent and is not a top-level comment", () => {
    const stream = started(1);
    const ops = stream.onEvents([reply(2), reply(3)]);
    assert.deepEqual(ops, [
      { op: "count", id: "c1", count: 1 },
      { op: "count", id: "c1", count: 2 },
    ]);
    assert.deepEqual(shownIds(stream), ["c1"]);
    assert.deepEqual(stream.onEvents([reply(3)]), [], "a reply seen twice counts once");
  });

  it("an opened thread shows fetched replies oldest first, then live ones", () => {
    const stream = started(1);
    stream.onEvents([reply(2)]);
    assert.equal(stream.needsReplies("c1"), true);
    const fetched = [comment(3, { parent_id: "c1" }), comment(2, { parent_id: "c1" })]; // newest first
    let ops = stream.onReplies("c1", fetched);
    assert.deepEqual(ids(ops, "reply"), ["c2", "c3"]);
    assert.equal(stream.count("c1"), 2, "the fetched reply c3 was not counted yet");
    assert.equal(stream.needsReplies("c1"), false);
    ops = stream.onEvents([reply(4)]);
    assert.deepEqual(ops, [
      { op: "count", id: "c1", count: 3 },
      { op: "reply", comment: asComment(comment(4, { parent_id: "c1" })), before: null },
    ]);
  });

  it("a live reply that came while its thread was loading is shown when it opens", () => {
    const stream = started(1);
    assert.equal(stream.needsReplies("c1"), true); // the reader opens the thread: a fetch starts
    stream.onEvents([reply(2)]); // the reply goes live before the fetch answers
    const ops = stream.onReplies("c1", []); // the fetch read the history before it was approved
    assert.deepEqual(ids(ops, "reply"), ["c2"]);
    assert.equal(stream.count("c1"), 1, "counted once");
    assert.deepEqual(ids(stream.onReplies("c1", [comment(2, { parent_id: "c1" })]), "reply"), []);
  });

  it("a kept live reply that was deleted meanwhile is not shown", () => {
    const stream = started(1);
    stream.onEvents([reply(2)]);
    stream.onEvents([{ type: "delete", seq: 3, id: "c2" }]);
    assert.deepEqual(ids(stream.onReplies("c1", []), "reply"), []);
  });

  it("replies inside a snapshot are already in their parent's count", () => {
    const stream = new Stream();
    const ops = stream.onRecent({
      seq: 3,
      comments: [comment(1, { reply_count: 2 }), comment(2, { parent_id: "c1" }), comment(3, { parent_id: "c1" })],
    });
    assert.deepEqual(ids(ops), ["c1"]);
    assert.equal(ops[0].count, 2);
    assert.equal(stream.count("c1"), 2);
  });

  it("a snapshot older than a counted reply does not lower the count", () => {
    const stream = new Stream();
    stream.onEvents([event(1)]);
    stream.onEvents([reply(2)]);
    assert.equal(stream.count("c1"), 1);
    assert.deepEqual(stream.onRecent({ seq: 1, comments: [comment(1, { reply_count: 0 })] }), []);
    assert.equal(stream.count("c1"), 1);
    const ops = stream.onRecent({ seq: 3, comments: [comment(1, { reply_count: 3 }), comment(2, { parent_id: "c1" })] });
    assert.deepEqual(ops, [{ op: "count", id: "c1", count: 3 }]);
  });

  it("deleting a reply lowers the count and removes it from the open thread", () => {
    const stream = started(1);
    stream.onEvents([reply(2)]);
    stream.onReplies("c1", [comment(2, { parent_id: "c1" })]);
    const ops = stream.onEvents([{ type: "delete", seq: 3, id: "c2" }]);
    assert.deepEqual(ops, [
      { op: "count", id: "c1", count: 0 },
      { op: "remove", id: "c2" },
    ]);
  });

  it("a reply to a comment that is not on screen is left out", () => {
    const stream = started(1);
    assert.deepEqual(stream.onEvents([reply(2, PARENT)]), []);
    assert.deepEqual(stream.onReplies(PARENT, [comment(2, { parent_id: PARENT })]), []);
  });
});

describe("bounded DOM", () => {
  it("keeps at most maxComments, dropping the oldest", () => {
    const stream = new Stream({ maxComments: 3 });
    stream.onRecent({ seq: 3, comments: [comment(1), comment(2), comment(3)] });
    const ops = stream.onEvents([event(4), event(5)]);
    assert.deepEqual(
      ops.map((o) => [o.op, o.comment?.id ?? o.id]),
      [
        ["add", "c4"],
        ["remove", "c1"],
        ["add", "c5"],
        ["remove", "c2"],
      ],
    );
    assert.deepEqual(shownIds(stream), ["c3", "c4", "c5"]);
    assert.deepEqual(stream.onBackfill({ afterSeq: 0, untilSeq: 5 }, [comment(1)], 200), [], "too old to show");
  });
});

describe("asComment", () => {
  it("keeps the fields the page uses and fills safe defaults", () => {
    assert.deepEqual(asComment({ id: "a", seq: 1, text: "<b>", user: null }), {
      id: "a",
      seq: 1,
      parent_id: null,
      user: { id: "", name: "someone" },
      text: "<b>",
      ts: 0,
      reply_count: 0,
    });
    assert.equal(asComment({ id: "a", seq: -1, text: "x" }), null);
    assert.equal(asComment({ id: "", seq: 1, text: "x" }), null);
    assert.equal(asComment({ id: "a", seq: 1, text: 5 }), null);
  });
});
