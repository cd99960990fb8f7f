import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SESSION_KEY, Session, readSession, requestDevToken, userIdFor } from "../session.js";

function jwt(claims) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

class MemoryStorage {
  constructor(entries = {}) {
    this.items = new Map(Object.entries(entries));
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}

const MOD = jwt({ sub: "mod-1", name: "Mo", roles: ["moderator"] });

describe("Session", () => {
  it("starts from what the tab saved, with the token's claims", () => {
    const storage = new MemoryStorage({ [SESSION_KEY]: JSON.stringify({ token: MOD, name: "Maureen" }) });
    const session = new Session(storage);
    assert.deepEqual(session.current, { token: MOD, name: "Maureen", userId: "mod-1", roles: ["moderator"] });
    assert.equal(session.signedIn, true);
    assert.equal(session.token, MOD);
    assert.deepEqual(session.viewer, { userId: "mod-1", roles: ["moderator"] });
  });

  it("ignores what is not a saved session", () => {
    for (const saved of ["not json", "null", '{"token": 3}', JSON.stringify({ token: "abc" })]) {
      assert.equal(readSession(new MemoryStorage({ [SESSION_KEY]: saved })), null, saved);
    }
    const session = new Session(new MemoryStorage());
    assert.equal(session.signedIn, false);
    assert.equal(session.token, null);
    assert.equal(session.viewer, null);
  });

  it("saves a sign-in, forgets a sign-out, and tells its listeners", () => {
    const storage = new MemoryStorage();
    const session = new Session(storage);
    const seen = [];
    session.onChange((current) => seen.push(current?.userId ?? null));
    assert.equal(session.set({ token: MOD, name: "" }), true);
    assert.equal(session.current.name, "Mo", "the token's name when none is given");
    assert.deepEqual(JSON.parse(storage.getItem(SESSION_KEY)), { token: MOD, name: "Mo" });
    assert.equal(new Session(storage).current.userId, "mod-1", "a reload finds it");
    session.set(null);
    assert.equal(storage.getItem(SESSION_KEY), null);
    assert.equal(session.set({ token: "garbage", name: "x" }), false);
    assert.equal(session.signedIn, false);
    assert.deepEqual(seen, ["mod-1", null, null]);
  });
});

describe("development sign-in", () => {
  it("makes a user id of the name", () => {
    assert.equal(userIdFor("Zoë Smith", "0123456789ab"), "Zoe-Smith-01234567");
    assert.equal(userIdFor("✨✨", "abcdefgh-xyz"), "viewer-abcdefgh");
    assert.match(userIdFor("x".repeat(80)), /^x{40}-[0-9a-f]{8}$/);
  });

  it("asks for a token and says why when there is none", async () => {
    const asked = [];
    const http = (result) => ({
      request: async (url, options) => {
        asked.push({ url, options });
        return result;
      },
    });
    const ok = await requestDevToken(http({ ok: true, status: 200, body: { token: MOD } }), "/api/dev/token", {
      name: "Mo",
      moderator: true,
      uuid: "deadbeef-0000",
    });
    assert.deepEqual(ok, { token: MOD });
    assert.deepEqual(asked[0], {
      url: "/api/dev/token",
      options: { method: "POST", body: { user_id: "Mo-deadbeef", name: "Mo", roles: ["moderator"] } },
    });
    const refused = await requestDevToken(
      http({ ok: false, status: 400, body: null, error: { code: "invalid", message: "name: too long" } }),
      "/t",
      { name: "x", moderator: false },
    );
    assert.deepEqual(refused, { error: "Could not sign in: name: too long" });
    assert.equal(asked[1].options.body.roles.length, 0);
    assert.deepEqual(await requestDevToken(http({ ok: false, status: 500, body: null, error: null }), "/t", { name: "x" }), {
      error: "Could not sign in: HTTP 500",
    });
    assert.deepEqual(await requestDevToken(http({ ok: true, status: 200, body: {} }), "/t", { name: "x" }), {
      error: "Could not sign in: HTTP 200",
    });
    assert.deepEqual(await requestDevToken(http({ ok: false, status: 0, body: null, error: null }), "/t", { name: "x" }), {
      error: "Could not sign in: the server can't be reached.",
    });
  });
});
