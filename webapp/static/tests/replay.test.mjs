import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  AHEAD_MS,
  BEFORE_MS,
  ReplayClock,
  ReplayTimeline,
  WINDOW_MS,
  formatPosition,
  lengthOf,
  seekTarget,
  startFromQuery,
} from "../replay.js";

const comment = (id, pos, seq = pos) => ({ id, pos_ms: pos, seq, user: { name: "A" }, text: id });

describe("positions", () => {
  it("are written as a player writes them", () => {
    assert.equal(formatPosition(0), "0:00");
    assert.equal(formatPosition(61999), "1:01");
    assert.equal(formatPosition(3723000), "1:02:03");
    assert.equal(formatPosition(-5), "0:00");
  });

  it("?t= takes seconds or 1h2m3s, within the video", () => {
    assert.equal(startFromQuery("?t=90", 600000), 90000);
    assert.equal(startFromQuery("?t=1m30s", 600000), 90000);
    assert.equal(startFromQuery("?t=1h", 7200000), 3600000);
    assert.equal(startFromQuery("?t=9999", 600000), 600000);
    assert.equal(startFromQuery("?t=nonsense", 600000), 0);
    assert.equal(startFromQuery("", 600000), 0);
  });

  it("the seek bar's last step means the end, even short of a whole step", () => {
    assert.equal(seekTarget(63000, 63948), 63948); // End on a bar of step 1000 stops at 63000
    assert.equal(seekTarget(62000, 63948), 62000);
    assert.equal(seekTarget(60000, 60000), 60000);
    assert.equal(seekTarget(59000, 60000), 59000);
    assert.equal(seekTarget(0, 1000), 0);
  });

  it("an ended video's length runs from its start to its end", () => {
    assert.equal(lengthOf({ started_ts: 1000, ended_ts: 61000 }), 60000);
    assert.equal(lengthOf({ started_ts: 1000 }), 1000);
  });
});

describe("the replay clock", () => {
  it("moves only while playing, stops at the end, and seeks within the video", () => {
    let t = 0;
    const clock = new ReplayClock(10000, () => t);
    t = 500;
    assert.equal(clock.position, 0);
    clock.play();
    t = 2500;
    assert.equal(clock.position, 2000);
    clock.pause();
    t = 9000;
    assert.equal(clock.position, 2000);
    clock.seek(9500);
    clock.play();
    t = 20000;
    assert.equal(clock.position, 10000);
    assert.ok(clock.atEnd);
    clock.pause();
    clock.play(); // again from the start
    assert.equal(clock.position, 0);
    clock.seek(-5);
    assert.equal(clock.position, 0);
    clock.seek(99999);
    assert.equal(clock.position, 10000);
  });
});

describe("the replay timeline", () => {
  it("asks for the window at the clock, then the next one only when the clock nears its end", () => {
    const tl = new ReplayTimeline(300000);
    assert.deepEqual(tl.nextWindow(0), { from: 0, to: WINDOW_MS });
    tl.add({ from: 0, to: WINDOW_MS }, { comments: [comment("a", 10), comment("b", 5000)] });
    assert.equal(tl.nextWindow(1000), null);
    assert.deepEqual(tl.nextWindow(WINDOW_MS - AHEAD_MS + 1), { from: WINDOW_MS, to: 2 * WINDOW_MS });
  });

  it("shows the comments up to the clock, in pos_ms then seq order", () => {
    const tl = new ReplayTimeline(300000);
    tl.add({ from: 0, to: WINDOW_MS }, { comments: [comment("b", 2000, 3), comment("a", 2000, 2), comment("c", 9000)] });
    assert.deepEqual(tl.shownAt(1999).map((c) => c.id), []);
    assert.deepEqual(tl.shownAt(2000).map((c) => c.id), ["a", "b"]);
    assert.deepEqual(tl.shownAt(60000).map((c) => c.id), ["a", "b", "c"]);
    assert.deepEqual(tl.shownAt(60000, 2).map((c) => c.id), ["b", "c"]);
  });

  it("continues a truncated window from its last pos_ms, keeping each comment once", () => {
    const tl = new ReplayTimeline(300000);
    tl.add({ from: 0, to: WINDOW_MS }, { truncated: true, comments: [comment("a", 100), comment("b", 200, 1)] });
    const next = tl.nextWindow(0);
    assert.deepEqual(next, { from: 200, to: 200 + WINDOW_MS });
    tl.add(next, { comments: [comment("b", 200, 1), comment("c", 200, 2), comment("d", 300)] });
    assert.deepEqual(tl.shownAt(1000).map((c) => c.id), ["a", "b", "c", "d"]);
  });

  it("a seek outside what is known starts over a little before it; the end stops asking", () => {
    const tl = new ReplayTimeline(200000);
    tl.add({ from: 0, to: WINDOW_MS }, { comments: [comment("a", 100)] });
    const far = tl.nextWindow(190000);
    assert.deepEqual(far, { from: 190000 - BEFORE_MS, to: 200001 });
    tl.add(far, { comments: [comment("z", 195000)] });
    assert.deepEqual(tl.shownAt(199000).map((c) => c.id), ["z"]);
    assert.equal(tl.nextWindow(199000), null);
    assert.deepEqual(tl.nextWindow(1000), { from: 0, to: WINDOW_MS }); // and back again
  });
});
