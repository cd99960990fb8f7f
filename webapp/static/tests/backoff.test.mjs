import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CAP_MS, Failover, backoffDelay, secondsLeft } from "../backoff.js";

describe("backoffDelay", () => {
  it("doubles its ceiling each attempt and never goes below half of it", () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const ceiling = 1000 * 2 ** attempt;
      assert.equal(backoffDelay(attempt, { random: () => 0 }), ceiling / 2);
      assert.equal(backoffDelay(attempt, { random: () => 0.999999 }), ceiling);
    }
  });

  it("is capped", () => {
    assert.equal(backoffDelay(50, { random: () => 0.999999 }), CAP_MS);
    assert.equal(backoffDelay(1000, { random: () => 0 }), CAP_MS / 2);
    assert.equal(backoffDelay(3, { baseMs: 100, capMs: 500, random: () => 1 }), 500);
  });

  it("has jitter: many clients spread over the window instead of retrying together", () => {
    const delays = Array.from({ length: 1000 }, () => backoffDelay(2));
    const distinct = new Set(delays).size;
    assert.ok(distinct > 500, `only ${distinct} distinct delays`);
    assert.ok(Math.min(...delays) >= 2000 && Math.max(...delays) <= 4000);
  });

  it("treats a negative attempt as the first", () => {
    assert.equal(backoffDelay(-3, { random: () => 0 }), 500);
  });
});

describe("secondsLeft", () => {
  it("rounds up and stops at zero", () => {
    assert.equal(secondsLeft(10_500, 10_000), 1);
    assert.equal(secondsLeft(13_000, 10_000), 3);
    assert.equal(secondsLeft(9_000, 10_000), 0);
  });
});

describe("Failover", () => {
  const fixed = { random: () => 0 };

  it("moves through the list and backs off while nothing works", () => {
    const f = new Failover(["ws://a/mqtt", "ws://b/mqtt", "ws://c/mqtt"], fixed);
    assert.equal(f.url, "ws://a/mqtt");
    assert.deepEqual(f.next(0), { url: "ws://b/mqtt", delayMs: 500, attempt: 1 });
    assert.deepEqual(f.next(0), { url: "ws://c/mqtt", delayMs: 1000, attempt: 2 });
    assert.deepEqual(f.next(0), { url: "ws://a/mqtt", delayMs: 2000, attempt: 3 });
  });

  it("a connection that lasted starts the backoff over; a short one does not", () => {
    const f = new Failover(["ws://a/mqtt"], { ...fixed, stableMs: 5000 });
    f.next(0);
    f.next(0);
    f.connected(10_000);
    assert.equal(f.next(11_000).delayMs, 2000, "dropped after 1 s: still backing off");
    f.connected(20_000);
    assert.equal(f.next(60_000).delayMs, 500, "dropped after 40 s: first retry again");
  });

  it("needs a URL", () => {
    assert.throws(() => new Failover([]));
  });
});
