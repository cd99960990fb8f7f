// The posting form: the character count, replying to a comment, sending with an Idempotency-Key
// that every retry of the same post reuses, what a failure means (posting.js), the 429's
// Retry-After and slow mode counted down on the Send button, and a closed chat.

import { backoffDelay, secondsLeft } from "./backoff.js";
import { extendDeadline, formatSeconds, isModerator, slowModeWait } from "./moderation.js";
import { MAX_POST_RETRIES, checkDraft, codePointCount, describeFailure, retryAfterSeconds } from "./posting.js";
import { BROWSER_TIMERS, sleep } from "./timers.js";

export const RETRY_BASE_MS = 500;
export const RETRY_CAP_MS = 8000;
export const DEFAULT_WAIT_S = 5; // a 429 without a usable Retry-After
const SENT_SHOWN_MS = 3000;
const TICK_MS = 250;

/** The draft to send: the same one (and so the same Idempotency-Key) while its text and parent
 * are those of the last attempt; else a new one with `newKey()`. */
export function draftFor(draft, text, parentId, newKey) {
  if (draft !== null && draft.text === text && draft.parentId === parentId) return draft;
  return { text, parentId, key: newKey() };
}

/** The request body of a post. */
export function postBody(post) {
  return post.parentId ? { text: post.text, parent_id: post.parentId } : { text: post.text };
}

/** The wait before retry number `attempt`: backoff with jitter, or the Retry-After if longer. */
export function retryDelayMs(attempt, retryAfter, random = Math.random) {
  return Math.max(backoffDelay(attempt, { baseMs: RETRY_BASE_MS, capMs: RETRY_CAP_MS, random }), (retryAfter ?? 0) * 1000);
}

/** Post `post` ({text, parentId, key}) to `url`, retrying what is worth retrying with the same
 * Idempotency-Key. `token()` is asked before each attempt (null: signed out meanwhile, stop);
 * `retrying(message, delayMs)` is told before each wait. Returns {kind: "posted"}, {kind:
 * "signed-out"}, or the last failure: {kind: "retry" | "wait" | "sign-in" | "stop", message,
 * retryAfter}. */
export async function postComment({ http, url, post, token, retrying, wait, random = Math.random }) {
  const body = postBody(post);
  for (let attempt = 0; ; attempt += 1) {
    const result = await http.request(url, {
      method: "POST",
      token: token(),
      body,
      headers: { "Idempotency-Key": post.key },
    });
    if (result.status === 202) return { kind: "posted" };
    const retryAfter = retryAfterSeconds(result.retryAfter);
    const failure = describeFailure(result.status, result.error);
    if (failure.kind === "retry" && attempt < MAX_POST_RETRIES) {
      const delay = retryDelayMs(attempt, retryAfter, random);
      retrying(failure.message, delay);
      await wait(delay);
      if (token() === null) return { kind: "signed-out" };
      continue;
    }
    return { ...failure, retryAfter };
  }
}

/** Whether the chat is closed (`closed`) and whether it refuses this reader's posts (`refused`):
 * an ended video refuses everyone, a closed chat everyone but moderators and admins. */
export function chatClosedFor(state, current) {
  const ended = state != null && state.status === "ended";
  const closed = ended || (state != null && state.chat === "closed");
  const moderator = current != null && isModerator(current.roles);
  return { closed, refused: ended || (closed && !moderator) };
}

export class Composer {
  /** `signIn`: signin.js's SignIn (sign out on a 401, send the reader to sign in); hooks:
   * `posted(parentId)` (a reply was posted: open its thread). */
  constructor({ doc, config, http, session, notices, signIn, hooks, timers = BROWSER_TIMERS, newKey = () => crypto.randomUUID() }) {
    this.$ = (id) => doc.getElementById(id);
    this.textBox = this.$("compose-text");
    this.url = config.api.comments;
    this.maxText = config.maxTextCodePoints;
    this.http = http;
    this.session = session;
    this.notices = notices;
    this.signIn = signIn;
    this.hooks = hooks;
    this.timers = timers;
    this.newKey = newKey;
    this.replyTo = null; // {id, name}
    this.draft = null; // {text, parentId, key}: the key is reused by every retry of this post
    this.sending = false;
    this.waitUntil = 0;
    this.waitTimer = 0;
    this.chatState = null;
    this.chatClosed = false;
  }

  bind() {
    const $ = this.$;
    this.textBox.addEventListener("input", () => this.update());
    this.textBox.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("compose").requestSubmit();
      }
    });
    $("compose").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    $("reply-cancel").addEventListener("click", () => {
      this.cancelReply();
      this.textBox.focus();
    });
    this.update();
  }

  // -- the chat's state -------------------------------------------------------------------------

  /** The `state` payload (or the video as the API has it): closed chat, slow mode. */
  showChatState(state) {
    this.chatState = state;
    this.showClosed();
    this.showSlowMode();
    this.update();
  }

  /** The contract's one rule: an ended video takes no posts at all; a closed chat takes only
   * moderators' and admins' (docs/contract.md). Again on every sign-in change. */
  showClosed() {
    const { closed, refused } = chatClosedFor(this.chatState, this.session.current);
    this.chatClosed = refused;
    const notice = this.$("chat-closed");
    notice.hidden = !closed;
    notice.textContent = closed && !refused
      ? "The chat of this video is closed; as a moderator you may still post."
      : "The chat of this video is closed.";
  }

  showSlowMode() {
    const state = this.chatState;
    const s = state && Number.isSafeInteger(state.slow_mode_s) ? state.slow_mode_s : 0;
    const note = this.$("slow-mode");
    note.hidden = s <= 0 || this.chatClosed;
    const current = this.session.current;
    const exempt = current !== null && isModerator(current.roles);
    note.textContent = `Slow mode: ${formatSeconds(s)}${exempt ? " (you are exempt)" : " between comments"}.`;
  }

  /** The count, and whether Send may be pressed (and what it says). */
  update() {
    const $ = this.$;
    const n = codePointCount(this.textBox.value);
    const count = $("compose-count");
    count.textContent = `${n} / ${this.maxText}`;
    count.classList.toggle("over", n > this.maxText);
    const left = secondsLeft(this.waitUntil, this.timers.now());
    const send = $("compose-send");
    send.disabled = this.sending || left > 0 || this.chatClosed || n === 0 || n > this.maxText;
    send.textContent = left > 0 ? `Send in ${left} s` : "Send";
    this.textBox.disabled = this.chatClosed;
  }

  // -- replying ---------------------------------------------------------------------------------

  startReply(id, name) {
    if (!this.signIn.need("Sign in to reply.")) return;
    this.replyTo = { id, name };
    this.$("replying-text").textContent = `Replying to ${name}`;
    this.$("replying").hidden = false;
    this.textBox.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.$("replying").hidden = true;
  }

  // -- sending ----------------------------------------------------------------------------------

  async send() {
    const text = this.textBox.value;
    const problem = checkDraft(text, this.maxText);
    if (problem !== null || this.sending || !this.session.signedIn) {
      if (problem !== null) this.notices.status(problem, true);
      return;
    }
    const parentId = this.replyTo ? this.replyTo.id : null;
    this.draft = draftFor(this.draft, text, parentId, this.newKey);
    const post = this.draft;
    this.sending = true;
    this.update();
    this.notices.status("Sending…");
    try {
      const outcome = await postComment({
        http: this.http,
        url: this.url,
        post,
        token: () => this.session.token,
        retrying: (message, delay) =>
          this.notices.status(`${message} Trying again in ${Math.ceil(delay / 1000)} s…`, true),
        wait: (ms) => sleep(this.timers, ms),
      });
      this.settle(post, outcome);
    } finally {
      this.sending = false;
      this.update();
    }
  }

  settle(post, outcome) {
    switch (outcome.kind) {
      case "posted":
        this.posted(post);
        break;
      case "signed-out":
        break;
      case "retry":
        this.notices.status(`${outcome.message} Your comment was not posted; press Send to try again.`, true);
        break;
      case "wait":
        this.startWait(outcome.retryAfter ?? DEFAULT_WAIT_S, outcome.message);
        break;
      case "sign-in":
        this.signIn.signOut(outcome.message);
        break;
      default:
        this.draft = null;
        this.notices.status(outcome.message, true);
    }
  }

  posted(post) {
    this.draft = null;
    if (this.textBox.value === post.text) this.textBox.value = ""; // unless the reader wrote on meanwhile
    if (post.parentId) {
      if (this.replyTo && this.replyTo.id === post.parentId) this.cancelReply();
      this.hooks.posted(post.parentId);
    }
    const slow = slowModeWait(this.chatState, this.session.current?.roles);
    if (slow > 0) {
      this.startWait(slow, "Sent. Slow mode is on.", false);
      return;
    }
    this.notices.status("Sent.");
    this.timers.setTimeout(() => {
      if (this.notices.statusText === "Sent.") this.notices.status("");
    }, SENT_SHOWN_MS);
  }

  /** Send stays disabled for `seconds` (a 429's Retry-After, or slow mode after a post), counting down. */
  startWait(seconds, message, isError = true) {
    const t = this.timers;
    this.waitUntil = extendDeadline(this.waitUntil > t.now() ? this.waitUntil : 0, t.now(), seconds);
    t.clearInterval(this.waitTimer);
    const tick = () => {
      const left = secondsLeft(this.waitUntil, t.now());
      if (left <= 0) {
        t.clearInterval(this.waitTimer);
        this.notices.status("You can send again.");
      } else {
        this.notices.status(`${message} You can send again in ${left} s.`, isError);
      }
      this.update();
    };
    tick();
    this.waitTimer = t.setInterval(tick, TICK_MS);
  }
}
