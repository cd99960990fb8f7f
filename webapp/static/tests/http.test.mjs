import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { HttpError, createHttp, errorOf } from "../http.js";

/** A fetch that records its calls and answers with `respond(url, init)`'s {status, body, headers}. */
function fakeFetch(respond) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const answer = await respond(url, init);
    if (answer instanceof Error) throw answer;
    const headers = new Map(Object.entries(answer.headers ?? {}));
    return {
      ok: answer.status >= 200 && answer.status < 300,
      status: answer.status,
      headers: { get: (name) => headers.get(name) ?? null },
      json: async () => (typeof answer.body === "string" ? JSON.parse(answer.body) : answer.body),
    };
  };
  return { fetch, calls };
}

describe("request", () => {
  it("sends JSON with the token and reads the JSON answer", async () => {
    const { fetch, calls } = fakeFetch(() => ({ status: 202, body: { id: "c1", status: "accepted" } }));
    const http = createHttp({ fetch });
    const result = await http.request("/api/videos/v1/comments", {
      method: "POST",
      token: "t0k",
      body: { text: "hi" },
      headers: { "Idempotency-Key": "k1" },
    });
    assert.deepEqual(result, { ok: true, status: 202, body: { id: "c1", status: "accepted" }, error: null, retryAfter: null });
    const { url, init } = calls[0];
    assert.equal(url, "/api/videos/v1/comments");
    assert.equal(init.method, "POST");
    assert.equal(init.body, '{"text":"hi"}');
    assert.equal(init.cache, "no-store");
    assert.deepEqual(init.headers, {
      Accept: "application/json",
      "Idempotency-Key": "k1",
      Authorization: "Bearer t0k",
      "Content-Type": "application/json",
    });
  });

  it("a GET has no body, no Content-Type and no Authorization without a token", async () => {
    const { fetch, calls } = fakeFetch(() => ({ status: 200, body: { ok: 1 } }));
    await createHttp({ fetch }).request("/x");
    assert.equal(calls[0].init.method, "GET");
    assert.equal(calls[0].init.body, undefined);
    assert.deepEqual(calls[0].init.headers, { Accept: "application/json" });
  });

  it("reads the contract's error body and the Retry-After header", async () => {
    const { fetch } = fakeFetch(() => ({
      status: 429,
      body: { error: { code: "rate_limited", message: "slow down" } },
      headers: { "Retry-After": "3" },
    }));
    const result = await createHttp({ fetch }).request("/x", { method: "POST", body: {} });
    assert.equal(result.ok, false);
    assert.equal(result.status, 429);
    assert.deepEqual(result.error, { code: "rate_limited", message: "slow down" });
    assert.equal(result.retryAfter, "3");
  });

  it("a 204 and a body that is not JSON give a null body", async () => {
    const { fetch } = fakeFetch((url) => (url === "/204" ? { status: 204 } : { status: 502, body: "<html>" }));
    const http = createHttp({ fetch });
    assert.deepEqual(await http.request("/204", { method: "DELETE" }), { ok: true, status: 204, body: null, error: null, retryAfter: null });
    const bad = await http.request("/502");
    assert.equal(bad.status, 502);
    assert.equal(bad.body, null);
    assert.equal(bad.error, null);
  });

  it("a network failure is status 0, never a throw", async () => {
    const { fetch } = fakeFetch(() => new TypeError("Failed to fetch"));
    assert.deepEqual(await createHttp({ fetch }).request("/x"), { ok: false, status: 0, body: null, error: null, retryAfter: null });
  });

  it("a request that takes longer than its timeout is aborted: status 0", async () => {
    const { fetch } = fakeFetch(
      (url, init) =>
        new Promise((resolve, reject) => init.signal.addEventListener("abort", () => reject(new Error("aborted")))),
    );
    const http = createHttp({ fetch, timeoutMs: 20 });
    const started = Date.now();
    const result = await http.request("/slow");
    assert.equal(result.status, 0);
    assert.ok(Date.now() - started < 2000);
    assert.equal((await http.request("/slow", { timeout: 5 })).status, 0);
  });
});

describe("getJSON", () => {
  it("returns the body of a success and throws an HttpError otherwise", async () => {
    const { fetch } = fakeFetch((url) =>
      url === "/ok" ? { status: 200, body: { comments: [] } } : url === "/html" ? { status: 200, body: "<p>" } : { status: 404, body: { error: { code: "not_found", message: "no" } } },
    );
    const http = createHttp({ fetch });
    assert.deepEqual(await http.getJSON("/ok"), { comments: [] });
    await assert.rejects(http.getJSON("/missing"), (err) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.message, "/missing: HTTP 404");
      assert.equal(err.result.error.code, "not_found");
      return true;
    });
    await assert.rejects(http.getJSON("/html"), HttpError);
  });
});

describe("errorOf", () => {
  it("finds the error object only where the contract puts it", () => {
    assert.deepEqual(errorOf({ error: { code: "x", message: "y" } }), { code: "x", message: "y" });
    for (const body of [null, "text", {}, { error: "flat" }, { error: null }]) assert.equal(errorOf(body), null);
  });
});
