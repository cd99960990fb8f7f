// Who is reading: the token (kept in the tab's sessionStorage), with the user id, name and roles
// it carries (read, not verified: the server verifies), and the development sign-in that hands
// out tokens. No DOM here: signin.js shows it.

import { tokenClaims } from "./moderation.js";

export const SESSION_KEY = "livecomments.session";

/** {token, name, userId, roles} from what was saved ({token, name}), or null when the token is not one. */
export function withClaims(saved) {
  const claims = tokenClaims(saved.token);
  if (claims === null) return null;
  return { token: saved.token, name: saved.name || claims.name, userId: claims.userId, roles: claims.roles };
}

/** What `storage` holds for this tab, or null. */
export function readSession(storage) {
  try {
    const saved = JSON.parse(storage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.token === "string" ? withClaims(saved) : null;
  } catch {
    return null;
  }
}

/** A user id for the development sign-in: the name made an id, and a random suffix. */
export function userIdFor(name, uuid = crypto.randomUUID()) {
  const slug = name
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${slug || "viewer"}-${uuid.slice(0, 8)}`;
}

/** Ask the development sign-in for a token: {token} or {error} (words for the reader). */
export async function requestDevToken(http, url, { name, moderator, uuid = crypto.randomUUID() }) {
  const result = await http.request(url, {
    method: "POST",
    body: { user_id: userIdFor(name, uuid), name, roles: moderator ? ["moderator"] : [] },
  });
  if (result.status === 0) return { error: "Could not sign in: the server can't be reached." };
  if (!result.ok || typeof result.body?.token !== "string") {
    return { error: `Could not sign in: ${result.error?.message ?? `HTTP ${result.status}`}` };
  }
  return { token: result.body.token };
}

export class Session {
  /** `storage`: the tab's sessionStorage (or a test's Map-like stand-in). */
  constructor(storage) {
    this.storage = storage;
    this.current = readSession(storage); // {token, name, userId, roles} or null
    this.listeners = [];
  }

  get signedIn() {
    return this.current !== null;
  }

  get token() {
    return this.current?.token ?? null;
  }

  /** {userId, roles} for moderation.commentActions, or null. */
  get viewer() {
    return this.current ? { userId: this.current.userId, roles: this.current.roles } : null;
  }

  /** `fn(current)` after every change. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  /** Sign in with {token, name} (null: sign out). False when the token is not one. */
  set(saved) {
    this.current = saved === null ? null : withClaims(saved);
    if (this.current) {
      this.storage.setItem(SESSION_KEY, JSON.stringify({ token: this.current.token, name: this.current.name }));
    } else {
      this.storage.removeItem(SESSION_KEY);
    }
    for (const fn of this.listeners) fn(this.current);
    return saved === null || this.current !== null;
  }
}
