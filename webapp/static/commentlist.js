// The list of comments on screen: stream.js's render operations applied once per animation frame,
// following the newest comment while the reader is at the bottom (else a "3 new comments" button),
// a polite count for screen readers now and then (never every comment), and the pinned box.

import { commentView, renderPinned, renderReactions, replyView, setReplyCount } from "./render.js";
import { BROWSER_TIMERS } from "./timers.js";

export const AT_BOTTOM_PX = 48;
export const ANNOUNCE_EVERY_MS = 4000;
export const FLUSH_FALLBACK_MS = 1000; // requestAnimationFrame does not run in a hidden tab

/** The browser's animation frames; tests pass their own. */
export const BROWSER_FRAMES = Object.freeze({
  request: (fn) => globalThis.requestAnimationFrame(fn),
  cancel: (id) => globalThis.cancelAnimationFrame(id),
});

function newComments(n) {
  return `${n} new ${n === 1 ? "comment" : "comments"}`;
}

export class CommentList {
  /** `reactions`: a CommentReactions (the counts and this reader's presses); `say(message)`: the
   * announcer; hooks: `pinned(comment)` (after the pinned box changed). */
  constructor({ doc, reactions, say, hooks, timers = BROWSER_TIMERS, frames = BROWSER_FRAMES }) {
    const $ = (id) => doc.getElementById(id);
    this.doc = doc;
    this.scroller = $("stream-scroll");
    this.list = $("stream");
    this.empty = $("stream-empty");
    this.newButton = $("new-comments");
    this.pinnedBox = { box: $("pinned"), author: $("pinned").querySelector(".author"), text: $("pinned").querySelector(".text") };
    this.reactions = reactions;
    this.say = say;
    this.hooks = hooks;
    this.timers = timers;
    this.frames = frames;
    this.views = new Map(); // comment or reply id -> its view (render.js)
    this.queue = [];
    this.frame = 0;
    this.fallbackTimer = 0;
    this.unseen = 0;
    this.toAnnounce = 0;
    this.lastAnnounced = 0;
    this.announceTimer = 0;
  }

  bind() {
    this.scroller.addEventListener("scroll", () => {
      if (this.isAtBottom()) this.clearUnseen();
    });
    this.newButton.addEventListener("click", () => {
      this.scrollToBottom();
      this.clearUnseen();
    });
  }

  /** The view of a comment or reply on screen, or undefined. */
  view(id) {
    return this.views.get(id);
  }

  /** The view of the comment or reply `node` is in, or undefined. */
  viewOf(node) {
    const item = node?.closest(".reply, .comment");
    return item ? this.views.get(item.dataset.id) : undefined;
  }

  /** Keep the focus in the list when what had it goes away. */
  focusList() {
    this.scroller.focus({ preventScroll: true });
  }

  // -- rendering: one animation frame per batch of operations ---------------------------------

  enqueue(ops) {
    if (!ops.length) return;
    this.queue.push(...ops);
    if (this.frame === 0) {
      this.frame = this.frames.request(() => this.flush());
      this.fallbackTimer = this.timers.setTimeout(() => this.flush(), FLUSH_FALLBACK_MS);
    }
  }

  isAtBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= AT_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  clearUnseen() {
    this.unseen = 0;
    this.newButton.hidden = true;
  }

  flush() {
    this.frames.cancel(this.frame);
    this.timers.clearTimeout(this.fallbackTimer);
    this.frame = 0;
    const ops = this.queue;
    this.queue = [];
    const atBottom = this.isAtBottom();
    let fresh = 0;
    for (const op of ops) {
      if (this.apply(op) && op.source !== "recent") fresh += 1;
    }
    this.empty.hidden = this.list.childElementCount > 0;
    if (atBottom) {
      this.scrollToBottom();
    } else if (fresh > 0) {
      this.unseen += fresh;
      this.newButton.textContent = `${newComments(this.unseen)} ↓`;
      this.newButton.hidden = false;
    }
    if (fresh > 0) this.announce(fresh);
  }

  /** Apply one operation; true when it added a top-level comment. */
  apply(op) {
    const before = (id) => (id && this.views.get(id)?.item) || null;
    switch (op.op) {
      case "add": {
        const view = commentView(this.doc, op.comment, op.count);
        this.views.set(op.comment.id, view);
        this.renderReactionsOf(view);
        this.list.insertBefore(view.item, before(op.before));
        return true;
      }
      case "reply": {
        const parent = this.views.get(op.comment.parent_id);
        if (parent === undefined || parent.thread === null) return false;
        const view = replyView(this.doc, op.comment);
        this.views.set(op.comment.id, view);
        this.renderReactionsOf(view);
        parent.thread.insertBefore(view.item, before(op.before));
        return false;
      }
      case "remove": {
        const view = this.views.get(op.id);
        if (view !== undefined) {
          if (view.item.contains(this.doc.activeElement)) this.focusList();
          view.item.remove();
          this.views.delete(op.id);
          for (const [id, other] of this.views) if (other.comment.parent_id === op.id) this.views.delete(id);
        }
        return false;
      }
      case "count": {
        const view = this.views.get(op.id);
        if (view !== undefined) setReplyCount(view, op.count);
        return false;
      }
      case "pin":
        renderPinned(this.pinnedBox, op.comment);
        this.hooks.pinned(op.comment);
        return false;
      default:
        return false;
    }
  }

  // -- reaction counts ------------------------------------------------------------------------

  renderReactionsOf(view) {
    const id = view.comment.id;
    renderReactions(view, this.reactions.get(id), (kind) => this.reactions.pressed(id, kind));
  }

  renderReactions(id) {
    const view = this.views.get(id);
    if (view !== undefined) this.renderReactionsOf(view);
  }

  renderAllReactions() {
    for (const view of this.views.values()) this.renderReactionsOf(view);
  }

  // -- screen readers -------------------------------------------------------------------------

  announce(count) {
    const t = this.timers;
    this.toAnnounce += count;
    if (this.announceTimer) return;
    const wait = Math.max(0, this.lastAnnounced + ANNOUNCE_EVERY_MS - t.now());
    this.announceTimer = t.setTimeout(() => {
      this.announceTimer = 0;
      this.lastAnnounced = t.now();
      this.say(newComments(this.toAnnounce));
      this.toAnnounce = 0;
    }, wait);
  }
}
