import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { chatClosedFor, draftFor, postBody, postComment, retryDelayMs } from "../composer.js";
import { MAX_POST_RETRIES } from "../posting.js";

/** An http whose answers are given in order; it records every request. */
function scripted(...answers) {
  const requests = [];
  return {
    requests,
    request: async (url, options) => {
      requests.push({ url, options });
      const a = answers.shift() ?? { status: 202 };
      return { ok: a.status >= 200 && a.status < 300, body: null, error: null, retryAfter: null, ...a };
    },
  };
}

function poster(http, { token = () => "t", random = () => 0 } = {}) {
  const waits = [];
  const said = [];
  const post = { text: "hello", parentId: null, key: "key-1" };
  const run = () =>
    postComment({
      http,
      url: "/api/videos/v1/comments",
      post,
      token,
      retrying: (message, delay) => said.push([message, delay]),
      wait: async (ms) => waits.push(ms),
      random,
    });
  return { run, waits, said };
}

describe("postComment", () => {
  it("posts once on a 202, with the Idempotency-Key and the token", async () => {
    const http = scripted({ status: 202 });
    const { run, waits } = poster(http);
    assert.deepEqual(await run(), { kind: "posted" });
    assert.deepEqual(http.requests, [
      {
        url: "/api/videos/v1/comments",
        options: { method: "POST", token: "t", body: { text: "hello" }, headers: { "Idempotency-Key": "key-1" } },
      },
    ]);
    assert.deepEqual(waits, []);
  });

  it("retries the network and 503 with the same key, waiting the Retry-After when it is longer", async () => {
    const http = scripted({ status: 0 }, { status: 503, retryAfter: "4" }, { status: 202 });
    const { run, waits, said } = poster(http);
    assert.deepEqual(await run(), { kind: "posted" });
    assert.equal(http.requests.length, 3);
    assert.deepEqual(new Set(http.requests.map((r) => r.options.headers["Idempotency-Key"])), new Set(["key-1"]));
    assert.deepEqual(waits, [250, 4000]); // backoff (random 0: half of 500 ms), then the Retry-After
    assert.deepEqual(said.map(([m]) => m), ["Can't reach the server.", "The server could not record your comment."]);
  });

  it("gives up after MAX_POST_RETRIES retries, saying the last failure", async () => {
    const http = scripted(...Array.from({ length: 10 }, () => ({ status: 503 })));
    const { run, waits } = poster(http);
    const outcome = await run();
    assert.equal(outcome.kind, "retry");
    assert.equal(http.requests.length, MAX_POST_RETRIES + 1);
    assert.equal(waits.length, MAX_POST_RETRIES);
  });

  it("a 429 is a wait of its Retry-After, not a retry", async () => {
    const http = scripted({ status: 429, retryAfter: "7", error: { code: "rate_limited", message: "slow down" } });
    const { run, waits } = poster(http);
    assert.deepEqual(await run(), { kind: "wait", message: "You are posting too fast.", retryAfter: 7 });
    assert.deepEqual(waits, []);
  });

  it("a 401 asks for a sign-in; a refusal stops with the server's words", async () => {
    assert.equal((await poster(scripted({ status: 401 })).run()).kind, "sign-in");
    const refused = await poster(scripted({ status: 422, error: { code: "rejected", message: "blocked term" } })).run();
    assert.deepEqual(refused, { kind: "stop", message: "Your comment was not accepted: blocked term", retryAfter: null });
  });

  it("stops when the reader signed out while it waited", async () => {
    let token = "t";
    const http = scripted({ status: 503 }, { status: 202 });
    const { run } = poster(http, { token: () => token });
    const outcome = run();
    token = null;
    assert.deepEqual(await outcome, { kind: "signed-out" });
    assert.equal(http.requests.length, 1);
  });
});

describe("drafts", () => {
  it("keeps the key while the text and the parent are the same", () => {
    let n = 0;
    const newKey = () => `k${++n}`;
    const first = draftFor(null, "hi", null, newKey);
    assert.deepEqual(first, { text: "hi", parentId: null, key: "k1" });
    assert.equal(draftFor(first, "hi", null, newKey), first);
    assert.equal(draftFor(first, "hi!", null, newKey).key, "k2");
    assert.equal(draftFor(first, "hi", "c1", newKey).key, "k3");
  });

  it("a reply's body names its parent", () => {
    assert.deepEqual(postBody({ text: "a", parentId: null }), { text: "a" });
    assert.deepEqual(postBody({ text: "a", parentId: "c1" }), { text: "a", parent_id: "c1" });
  });

  it("retry delays grow to their cap, and never undercut a Retry-After", () => {
    const top = () => 1;
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => retryDelayMs(a, null, top)), [500, 1000, 2000, 4000, 8000, 8000]);
    assert.equal(retryDelayMs(0, 10, top), 10000);
  });
});

describe("a closed chat", () => {
  const viewer = { roles: [] };
  const moderator = { roles: ["moderator"] };
  const admin = { roles: ["admin"] };
  it("refuses everyone but moderators and admins while the video is live", () => {
    const state = { status: "live", chat: "closed" };
    assert.deepEqual(chatClosedFor(state, viewer), { closed: true, refused: true });
    assert.deepEqual(chatClosedFor(state, null), { closed: true, refused: true });
    assert.deepEqual(chatClosedFor(state, moderator), { closed: true, refused: false });
    assert.deepEqual(chatClosedFor(state, admin), { closed: true, refused: false });
  });
  it("refuses everyone once the video has ended", () => {
    const state = { status: "ended", chat: "closed" };
    for (const who of [viewer, moderator, admin, null]) {
      assert.deepEqual(chatClosedFor(state, who), { closed: true, refused: true });
    }
  });
  it("is open otherwise, and before any state arrived", () => {
    assert.deepEqual(chatClosedFor({ status: "live", chat: "open" }, viewer), { closed: false, refused: false });
    assert.deepEqual(chatClosedFor(null, viewer), { closed: false, refused: false });
  });
});
