// Who may do what, and the chat settings form, as plain data: token claims, the actions a comment
// offers to the reader, slow-mode waits, the settings patch, and failures in words. No DOM and no
// network here (actions.js, signin.js, composer.js and panels.js do those).

export const EXEMPT_ROLES = Object.freeze(["moderator", "admin"]);

/** Ban choices offered on a comment: a timeout of 60 s or 10 min, or a permanent ban. */
export const BAN_CHOICES = Object.freeze([
  { action: "timeout-60", label: "Time out 1 min", durationS: 60 },
  { action: "timeout-600", label: "Time out 10 min", durationS: 600 },
  { action: "ban", label: "Ban", durationS: null },
]);

export const MAX_SLOW_MODE_S = 86400;
export const MAX_REPORTS_TO_HOLD = 10000;
export const MAX_BLOCKED_TERMS = 500;
export const MAX_TERM_CODE_POINTS = 100;

function base64UrlDecode(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims the page needs from a JWT (read, not verified: the server verifies), or null.
 * {userId, name, roles} */
export function tokenClaims(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  let claims;
  try {
    claims = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    return null;
  }
  if (claims === null || typeof claims !== "object" || typeof claims.sub !== "string" || !claims.sub) return null;
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r) => typeof r === "string") : [];
  const name = typeof claims.name === "string" && claims.name ? claims.name : claims.sub;
  return { userId: claims.sub, name, roles };
}

export function isModerator(roles) {
  return Array.isArray(roles) && roles.some((r) => EXEMPT_ROLES.includes(r));
}

/** The actions a comment offers, in order. `viewer`: {userId, roles} or null (signed out);
 * `comment`: {user: {id}, parent_id}; `pinnedId`: the pinned comment's id or null.
 * Authors delete their own; signed-in viewers report others'; moderators delete, pin or
 * unpin top-level comments, and time out or ban other people. */
export function commentActions(viewer, comment, pinnedId = null) {
  if (viewer === null || viewer === undefined) return [];
  const own = comment.user.id !== "" && comment.user.id === viewer.userId;
  const mod = isModerator(viewer.roles);
  const actions = [];
  if (own || mod) actions.push("delete");
  if (mod && comment.parent_id === null) actions.push(pinnedId === comment.id ? "unpin" : "pin");
  if (mod && !own && comment.user.id !== "") actions.push(...BAN_CHOICES.map((c) => c.action));
  if (!own && !mod) actions.push("report");
  return actions;
}

/** Seconds the reader must wait after a post in slow mode: 0 when it is off or they are exempt. */
export function slowModeWait(state, roles) {
  const s = state && Number.isSafeInteger(state.slow_mode_s) ? state.slow_mode_s : 0;
  return s > 0 && !isModerator(roles) ? s : 0;
}

/** The later of an existing deadline and one `seconds` from now (ms since the epoch). */
export function extendDeadline(deadline, now, seconds) {
  return Math.max(deadline || 0, now + Math.max(0, seconds) * 1000);
}

/** "30 s", "1 min", "1 min 30 s", "2 h", "1 h 5 min". */
export function formatSeconds(total) {
  const s = Math.max(0, Math.floor(total));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return `${Math.floor(s / 60)} min${rest ? ` ${rest} s` : ""}`;
  }
  const rest = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${rest ? ` ${rest} min` : ""}`;
}

/** One term per line: trimmed, blank lines dropped, duplicates once, first spelling kept. */
export function parseTerms(text) {
  const seen = new Set();
  const terms = [];
  for (const line of String(text).split(/\r?\n/)) {
    const term = line.normalize("NFC").trim();
    if (term && !seen.has(term)) {
      seen.add(term);
      terms.push(term);
    }
  }
  return terms;
}

function wholeNumber(text) {
  const t = String(text).trim();
  return /^\d+$/.test(t) ? Number.parseInt(t, 10) : null;
}

/** The PATCH body from the settings form, or {error}. `form`: {chat, slowModeS, holdForReview,
 * termsText, termsEdited, reportsToHold} as typed; blocked_terms is sent only when edited (the
 * API replaces the list and cannot be asked for it), reports_to_hold only when filled in. */
export function settingsPatch(form) {
  const patch = {};
  if (form.chat !== "open" && form.chat !== "closed") return { error: "Choose whether the chat is open or closed." };
  patch.chat = form.chat;
  const slow = wholeNumber(form.slowModeS === "" ? "0" : form.slowModeS);
  if (slow === null || slow > MAX_SLOW_MODE_S) {
    return { error: `Slow mode is a whole number of seconds from 0 (off) to ${MAX_SLOW_MODE_S}.` };
  }
  patch.slow_mode_s = slow;
  patch.hold_for_review = Boolean(form.holdForReview);
  if (form.termsEdited) {
    const terms = parseTerms(form.termsText);
    if (terms.length > MAX_BLOCKED_TERMS) return { error: `At most ${MAX_BLOCKED_TERMS} blocked terms.` };
    const long = terms.find((t) => [...t].length > MAX_TERM_CODE_POINTS);
    if (long !== undefined) return { error: `A blocked term is at most ${MAX_TERM_CODE_POINTS} characters long.` };
    patch.blocked_terms = terms;
  }
  if (String(form.reportsToHold ?? "").trim() !== "") {
    const n = wholeNumber(form.reportsToHold);
    if (n === null || n < 1 || n > MAX_REPORTS_TO_HOLD) {
      return { error: `Reports before holding is a whole number from 1 to ${MAX_REPORTS_TO_HOLD}.` };
    }
    patch.reports_to_hold = n;
  }
  return { patch };
}

const DOING = {
  delete: "delete this comment",
  pin: "pin this comment",
  unpin: "unpin",
  ban: "ban this person",
  report: "report this comment",
  react: "react",
  approve: "approve this comment",
  reject: "reject this comment",
  review: "load the review queue",
  settings: "save the settings",
  load: "load the settings",
};

/** What a failed action means, in words. `what`: a key of the actions above. */
export function describeActionFailure(what, status, error = null) {
  const doing = DOING[what] ?? "do that";
  const detail = error && typeof error.message === "string" && error.message ? `: ${error.message}` : ".";
  switch (status) {
    case 0:
      return `Could not ${doing}: the server can't be reached.`;
    case 401:
      return "Your sign-in has expired or is not valid. Please sign in again.";
    case 403:
      return `You may not ${doing}${detail}`;
    case 404:
      return `Could not ${doing}: it no longer exists.`;
    case 429:
      return `Could not ${doing}: too many requests. Try again in a moment.`;
    default:
      return `Could not ${doing}${status >= 500 ? " (the server had a problem)" : ""}${detail}`;
  }
}
