import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { checkDraft, codePointCount, describeFailure, retryAfterSeconds } from "../posting.js";

describe("codePointCount", () => {
  it("counts code points of the normalised, trimmed text", () => {
    assert.equal(codePointCount("hello"), 5);
    assert.equal(codePointCount("  hi \n"), 2);
    assert.equal(codePointCount("😀"), 1, "one code point, two UTF-16 units");
    assert.equal(codePointCount("e\u0301"), 1, "NFC composes e + combining acute");
    assert.equal(codePointCount(""), 0);
  });
});

describe("checkDraft", () => {
  it("accepts 1-500 code points", () => {
    assert.equal(checkDraft("x"), null);
    assert.equal(checkDraft("😀".repeat(500)), null);
    assert.match(checkDraft("😀".repeat(501)), /501 characters long; the limit is 500/);
    assert.equal(checkDraft("   "), "Write something first.");
  });
});

describe("retryAfterSeconds", () => {
  it("reads delta-seconds and HTTP dates", () => {
    assert.equal(retryAfterSeconds("7"), 7);
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterSeconds("Wed, 01 Jan 2025 00:00:12 GMT", now), 12);
    assert.equal(retryAfterSeconds("Tue, 31 Dec 2024 00:00:00 GMT", now), 0);
    assert.equal(retryAfterSeconds(null), null);
    assert.equal(retryAfterSeconds("soon"), null);
  });
});

describe("describeFailure", () => {
  it("says every status in words and knows what to do next", () => {
    const kinds = Object.fromEntries(
      [0, 400, 401, 403, 404, 413, 422, 429, 500, 503].map((s) => [s, describeFailure(s).kind]),
    );
    assert.deepEqual(kinds, {
      0: "retry",
      400: "stop",
      401: "sign-in",
      403: "stop",
      404: "stop",
      413: "stop",
      422: "stop",
      429: "wait",
      500: "stop",
      503: "retry",
    });
    for (const s of [0, 400, 401, 403, 404, 413, 422, 429, 500, 503]) {
      assert.ok(describeFailure(s).message.length > 10);
    }
  });

  it("tells a closed chat from a ban and passes the server's reason on", () => {
    assert.equal(describeFailure(403, { code: "chat_closed", message: "x" }).message, "The chat of this video is closed.");
    assert.equal(
      describeFailure(403, { code: "forbidden", message: "banned until 12:00" }).message,
      "You can't post in this chat: banned until 12:00",
    );
    assert.equal(
      describeFailure(422, { code: "rejected", message: "blocked term" }).message,
      "Your comment was not accepted: blocked term",
    );
  });
});
