import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CommentReactions,
  KINDS,
  LiveTotals,
  MAX_FLOATING,
  WINDOW_SIZE,
  cleanCounts,
  formatCount,
  spread,
  totalOf,
} from "../reactions.js";

describe("cleanCounts", () => {
  it("keeps known kinds with positive integer counts", () => {
    assert.deepEqual(cleanCounts({ like: 2, love: 0, haha: -1, wow: 1.5, sad: "3", angry: 1, boo: 9 }), {
      like: 2,
      angry: 1,
    });
    for (const raw of [null, undefined, [], "x", 3]) assert.deepEqual(cleanCounts(raw), {});
    assert.deepEqual(KINDS, ["like", "love", "haha", "wow", "sad", "angry"]);
  });

  it("totals", () => {
    assert.equal(totalOf({ like: 2, love: 3 }), 5);
    assert.equal(totalOf({}), 0);
  });
});

describe("formatCount", () => {
  it("shortens large numbers", () => {
    assert.deepEqual(
      [0, 7, 999, 1000, 1234, 9999, 12345, 999999, 1_500_000, 25_000_000].map(formatCount),
      ["0", "7", "999", "1K", "1.2K", "9.9K", "12K", "999K", "1.5M", "25M"],
    );
    assert.equal(formatCount(-1), "0");
    assert.equal(formatCount(Number.NaN), "0");
  });
});

describe("CommentReactions: merging the sources", () => {
  it("takes a comment payload's counts until the topic speaks for the comment", () => {
    const r = new CommentReactions();
    assert.equal(r.seen("a", { like: 2 }), true);
    assert.deepEqual(r.get("a"), { like: 2 });
    assert.equal(r.seen("a", { like: 2 }), false, "same counts: nothing to redraw");
    assert.equal(r.seen("a", { like: 3 }), true);
    assert.deepEqual(r.onSnapshot({ a: { like: 5, wow: 1 } }), ["a"]);
    assert.deepEqual(r.get("a"), { like: 5, wow: 1 });
    assert.equal(r.seen("a", {}), false, "a stale `recent` payload does not undo the topic");
    assert.deepEqual(r.get("a"), { like: 5, wow: 1 });
    assert.deepEqual(r.get("unknown"), {});
  });

  it("a comment left out of a snapshot has none left while it is in the recent window", () => {
    const r = new CommentReactions();
    r.setWindow(["a", "b"]);
    r.onSnapshot({ a: { like: 1 }, b: { love: 2 } });
    assert.deepEqual(r.onSnapshot({ b: { love: 2 } }), ["a"]);
    assert.deepEqual(r.get("a"), {});
    assert.deepEqual(r.onSnapshot({ b: { love: 2 } }), [], "nothing changed");
  });

  it("keeps the last counts of a comment that left the window (the topic no longer covers it)", () => {
    const r = new CommentReactions();
    r.setWindow(["a", "b"]);
    r.onSnapshot({ a: { like: 1 }, b: { love: 2 } });
    r.setWindow(["b", "c"]);
    assert.deepEqual(r.onSnapshot({ b: { love: 2 } }), []);
    assert.deepEqual(r.get("a"), { like: 1 });
  });

  it("keeps the window itself after the snapshot: later comments enter, the oldest leave", () => {
    const r = new CommentReactions();
    const snapshot = Array.from({ length: WINDOW_SIZE }, (_, i) => ({ id: `c${i + 1}`, seq: i + 1 }));
    r.setWindow(snapshot);
    r.onSnapshot({ c1: { like: 1 }, c2: { like: 2 } });
    r.enterWindow("c51", 51); // a live comment pushes c1 out of the bridge's window
    assert.deepEqual(r.onSnapshot({ c2: { like: 2 }, c51: { wow: 1 } }), ["c51"], "c1 keeps its last counts");
    assert.deepEqual(r.get("c1"), { like: 1 });
    assert.deepEqual(r.onSnapshot({ c51: { wow: 1 } }), ["c2"], "c2 is still in the window: none left");
    assert.deepEqual(r.get("c2"), {});
    r.enterWindow("c0", 0); // older than all of the window (a late history page): not in it
    r.onSnapshot({ c0: { sad: 1 }, c51: { wow: 1 } });
    assert.deepEqual(r.onSnapshot({ c51: { wow: 1 } }), []);
    assert.deepEqual(r.get("c0"), { sad: 1 });
  });

  it("a deleted comment leaves the window; a bigger snapshot makes a bigger window", () => {
    const r = new CommentReactions();
    r.setWindow([{ id: "a", seq: 1 }, { id: "b", seq: 2 }]);
    r.onSnapshot({ a: { like: 1 } });
    r.leaveWindow("a");
    assert.deepEqual(r.onSnapshot({}), []);
    assert.deepEqual(r.get("a"), { like: 1 });
    const big = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, seq: i }));
    r.setWindow(big);
    r.onSnapshot({ c0: { like: 1 }, c1: { like: 1 } });
    r.enterWindow("new", 100); // c0 leaves: the window holds 60
    assert.deepEqual(r.onSnapshot({}), ["c1"], "c1 is the 60th newest: still in the window");
    assert.deepEqual(r.get("c0"), { like: 1 });
  });

  it("before a snapshot, later comments make no window", () => {
    const r = new CommentReactions();
    r.enterWindow("a", 1);
    r.seen("a", { like: 1 });
    assert.deepEqual(r.onSnapshot({}), []);
    assert.deepEqual(r.get("a"), { like: 1 });
  });

  it("before any window is known, only listed comments are touched", () => {
    const r = new CommentReactions();
    r.seen("old", { haha: 4 });
    assert.deepEqual(r.onSnapshot({ x: { like: 1 } }), ["x"]);
    assert.deepEqual(r.get("old"), { haha: 4 });
  });

  it("ignores a malformed snapshot", () => {
    const r = new CommentReactions();
    r.seen("a", { like: 1 });
    for (const bad of [null, [], "x"]) assert.deepEqual(r.onSnapshot(bad), []);
    assert.deepEqual(r.get("a"), { like: 1 });
  });

  it("forgets the oldest comments beyond its limit", () => {
    const r = new CommentReactions({ limit: 2 });
    r.seen("a", { like: 1 });
    r.seen("b", { like: 1 });
    r.seen("c", { like: 1 });
    assert.deepEqual(r.get("a"), {});
    assert.deepEqual(r.get("c"), { like: 1 });
  });
});

describe("CommentReactions: the reader's own presses", () => {
  it("toggles at once and says whether to PUT or DELETE", () => {
    const r = new CommentReactions();
    r.seen("a", { like: 2 });
    assert.equal(r.toggle("a", "like"), true);
    assert.equal(r.pressed("a", "like"), true);
    assert.deepEqual(r.get("a"), { like: 3 });
    assert.equal(r.toggle("a", "like"), false);
    assert.equal(r.pressed("a", "like"), false);
    assert.deepEqual(r.get("a"), { like: 2 });
    assert.throws(() => r.toggle("a", "boo"));
  });

  it("undo takes a failed press back", () => {
    const r = new CommentReactions();
    r.toggle("a", "wow");
    r.undo("a", "wow");
    assert.equal(r.pressed("a", "wow"), false);
    assert.deepEqual(r.get("a"), {});
  });

  it("the topic's counts win, but a pressed kind shows at least 1", () => {
    const r = new CommentReactions();
    r.setWindow(["a"]);
    r.toggle("a", "love");
    r.onSnapshot({ a: { love: 4 } });
    assert.deepEqual(r.get("a"), { love: 4 });
    r.onSnapshot({}); // a snapshot taken before the press reached the database
    assert.deepEqual(r.get("a"), { love: 1 });
  });

  it("remembers presses across a reload of the session and per reader", () => {
    const r = new CommentReactions();
    r.toggle("a", "like");
    r.toggle("b", "sad");
    const saved = r.mineList();
    const again = new CommentReactions({ mine: saved });
    assert.equal(again.pressed("a", "like"), true);
    assert.equal(again.pressed("b", "sad"), true);
    again.useMine([]);
    assert.equal(again.pressed("a", "like"), false);
    again.useMine(["b sad", 7]);
    assert.deepEqual(again.mineList(), ["b sad"]);
  });
});

describe("LiveTotals", () => {
  it("a retained snapshot sets the baseline without hearts", () => {
    const live = new LiveTotals();
    assert.equal(live.total, 0);
    assert.deepEqual(live.onSnapshot({ love: 40, like: 2 }, { retained: true }), []);
    assert.equal(live.total, 42);
  });

  it("floats a heart per new reaction, kinds mixed, at most `room`", () => {
    const live = new LiveTotals();
    live.onSnapshot({ love: 1 }, { retained: true });
    assert.deepEqual(live.onSnapshot({ love: 4, like: 1 }), ["like", "love", "love", "love"]);
    assert.deepEqual(live.onSnapshot({ love: 104, like: 1 }).length, MAX_FLOATING);
    assert.deepEqual(live.onSnapshot({ love: 110, like: 1 }, { room: 2 }), ["love", "love"]);
    assert.deepEqual(live.onSnapshot({ love: 111, like: 1 }, { room: -3 }), []);
    assert.equal(live.total, 112);
  });

  it("a live snapshot without a retained one before it counts from zero", () => {
    const live = new LiveTotals();
    assert.deepEqual(live.onSnapshot({ wow: 2 }), ["wow", "wow"]);
  });

  it("the reader's clicks count at once and are not floated twice", () => {
    const live = new LiveTotals();
    live.onSnapshot({ love: 10 }, { retained: true });
    live.click("love");
    live.click("love");
    assert.equal(live.total, 12);
    // the snapshot holds one of ours: floated already, and the other is still on the way
    assert.deepEqual(live.onSnapshot({ love: 11 }), []);
    assert.equal(live.total, 12);
    // then our other one and two from other people
    assert.deepEqual(live.onSnapshot({ love: 14 }), ["love", "love"]);
    assert.equal(live.total, 14);
  });

  it("a failed click is taken back; a total going down floats nothing", () => {
    const live = new LiveTotals();
    live.onSnapshot({ love: 3 }, { retained: true });
    live.click("haha");
    live.failed("haha");
    live.failed("haha");
    assert.equal(live.total, 3);
    assert.deepEqual(live.onSnapshot({ love: 1 }), []);
    assert.equal(live.total, 1);
  });
});

describe("spread", () => {
  it("takes kinds in turn", () => {
    assert.deepEqual(spread({ love: 3, like: 1 }, 10), ["like", "love", "love", "love"]);
    assert.deepEqual(spread({ love: 3, like: 1 }, 2), ["like", "love"]);
    assert.deepEqual(spread({}, 5), []);
  });
});
