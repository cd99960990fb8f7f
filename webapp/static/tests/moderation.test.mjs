import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  BAN_CHOICES,
  commentActions,
  describeActionFailure,
  extendDeadline,
  formatSeconds,
  isModerator,
  parseTerms,
  settingsPatch,
  slowModeWait,
  tokenClaims,
} from "../moderation.js";

function jwt(claims) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

describe("tokenClaims", () => {
  it("reads the user, name and roles", () => {
    assert.deepEqual(tokenClaims(jwt({ sub: "mod-1", name: "Zoë ✨", roles: ["moderator"], exp: 1 })), {
      userId: "mod-1",
      name: "Zoë ✨",
      roles: ["moderator"],
    });
    assert.deepEqual(tokenClaims(jwt({ sub: "u1" })), { userId: "u1", name: "u1", roles: [] });
    assert.deepEqual(tokenClaims(jwt({ sub: "u1", roles: ["admin", 3] })).roles, ["admin"]);
  });

  it("refuses what is not a token", () => {
    for (const bad of [null, "", "abc", "a.b", "a.!!!.c", jwt({ name: "no sub" }), `x.${btoa("null")}.y`]) {
      assert.equal(tokenClaims(bad), null, String(bad));
    }
  });
});

describe("isModerator", () => {
  it("moderators and admins", () => {
    assert.equal(isModerator(["moderator"]), true);
    assert.equal(isModerator(["admin"]), true);
    assert.equal(isModerator([]), false);
    assert.equal(isModerator(undefined), false);
  });
});

describe("commentActions", () => {
  const alice = { user: { id: "alice", name: "Alice" }, parent_id: null, id: "c1" };
  const reply = { ...alice, id: "r1", parent_id: "c1" };
  const bans = BAN_CHOICES.map((c) => c.action);

  it("nothing for a reader who is not signed in", () => {
    assert.deepEqual(commentActions(null, alice), []);
  });

  it("viewers report others' comments and delete their own", () => {
    const bob = { userId: "bob", roles: [] };
    assert.deepEqual(commentActions(bob, alice), ["report"]);
    assert.deepEqual(commentActions({ userId: "alice", roles: [] }, alice), ["delete"]);
  });

  it("moderators delete, pin or unpin and ban; replies are not pinned; nobody bans themselves", () => {
    const mod = { userId: "mod", roles: ["moderator"] };
    assert.deepEqual(commentActions(mod, alice), ["delete", "pin", ...bans]);
    assert.deepEqual(commentActions(mod, alice, "c1"), ["delete", "unpin", ...bans]);
    assert.deepEqual(commentActions(mod, reply), ["delete", ...bans]);
    const own = { ...alice, user: { id: "mod", name: "Mod" } };
    assert.deepEqual(commentActions(mod, own), ["delete", "pin"]);
    assert.deepEqual(commentActions({ userId: "root", roles: ["admin"] }, alice), ["delete", "pin", ...bans]);
  });

  it("offers 60 s, 10 min and a permanent ban", () => {
    assert.deepEqual(
      BAN_CHOICES.map((c) => c.durationS),
      [60, 600, null],
    );
  });
});

describe("slow mode and countdowns", () => {
  it("waits slow_mode_s after a post unless exempt", () => {
    assert.equal(slowModeWait({ slow_mode_s: 30 }, []), 30);
    assert.equal(slowModeWait({ slow_mode_s: 30 }, ["moderator"]), 0);
    assert.equal(slowModeWait({ slow_mode_s: 30 }, ["admin"]), 0);
    assert.equal(slowModeWait({ slow_mode_s: 0 }, []), 0);
    assert.equal(slowModeWait(null, []), 0);
    assert.equal(slowModeWait({ slow_mode_s: "30" }, []), 0);
    assert.equal(slowModeWait({ slow_mode_s: 30 }, undefined), 30);
  });

  it("a new wait never shortens one already running", () => {
    const now = 1_000_000;
    assert.equal(extendDeadline(0, now, 30), now + 30_000);
    assert.equal(extendDeadline(now + 60_000, now, 30), now + 60_000);
    assert.equal(extendDeadline(now + 10_000, now, 30), now + 30_000);
    assert.equal(extendDeadline(0, now, -5), now);
  });

  it("says durations in words", () => {
    assert.deepEqual(
      [0, 1, 59, 60, 90, 600, 3599, 3600, 3900, 86400].map(formatSeconds),
      ["0 s", "1 s", "59 s", "1 min", "1 min 30 s", "10 min", "59 min 59 s", "1 h", "1 h 5 min", "24 h"],
    );
  });
});

describe("settings", () => {
  const form = {
    chat: "open",
    slowModeS: "30",
    holdForReview: true,
    termsText: "",
    termsEdited: false,
    reportsToHold: "",
  };

  it("sends chat, slow mode and hold; terms only when edited, reports only when filled in", () => {
    assert.deepEqual(settingsPatch(form), { patch: { chat: "open", slow_mode_s: 30, hold_for_review: true } });
    assert.deepEqual(settingsPatch({ ...form, termsEdited: true, termsText: " spam \n\nscam\nspam\r\nEggs " }).patch
      .blocked_terms, ["spam", "scam", "Eggs"]);
    assert.deepEqual(settingsPatch({ ...form, termsEdited: true }).patch.blocked_terms, [], "an emptied box clears");
    assert.equal(settingsPatch({ ...form, reportsToHold: " 5 " }).patch.reports_to_hold, 5);
    assert.equal(settingsPatch({ ...form, slowModeS: "" }).patch.slow_mode_s, 0);
    assert.equal(settingsPatch({ ...form, chat: "closed" }).patch.chat, "closed");
  });

  it("says what is wrong", () => {
    for (const bad of [
      { chat: "" },
      { slowModeS: "-1" },
      { slowModeS: "1.5" },
      { slowModeS: "86401" },
      { slowModeS: "soon" },
      { reportsToHold: "0" },
      { reportsToHold: "10001" },
      { termsEdited: true, termsText: "x".repeat(101) },
      { termsEdited: true, termsText: Array.from({ length: 501 }, (_, i) => `t${i}`).join("\n") },
    ]) {
      const result = settingsPatch({ ...form, ...bad });
      assert.equal(result.patch, undefined, JSON.stringify(bad));
      assert.ok(result.error.length > 10);
    }
    assert.ok(settingsPatch({ ...form, termsEdited: true, termsText: "😀".repeat(100) }).patch, "code points");
  });

  it("parseTerms: one per line", () => {
    assert.deepEqual(parseTerms("a\n a \n\nb"), ["a", "b"]);
    assert.deepEqual(parseTerms("e\u0301"), ["\u00e9"], "NFC, as the server stores it");
  });
});

describe("describeActionFailure", () => {
  it("says every failure in words", () => {
    assert.equal(describeActionFailure("delete", 0), "Could not delete this comment: the server can't be reached.");
    assert.match(describeActionFailure("ban", 401), /sign in again/);
    assert.equal(
      describeActionFailure("pin", 403, { code: "forbidden", message: "this needs the moderator role" }),
      "You may not pin this comment: this needs the moderator role",
    );
    assert.equal(describeActionFailure("report", 404), "Could not report this comment: it no longer exists.");
    assert.match(describeActionFailure("settings", 400, { message: "slow_mode_s: too big" }), /: slow_mode_s: too big$/);
    assert.match(describeActionFailure("react", 503), /server had a problem/);
    assert.match(describeActionFailure("whatever", 429), /too many requests/);
  });
});
