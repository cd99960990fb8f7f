// What the buttons of comments and replies do: open a thread (its replies fetched), reply,
// react (this reader's presses kept for the tab), and the "⋯" menu's actions (delete, pin, unpin,
// report, time out, ban), each one request, its failure said in words (moderation.js).

import { BAN_CHOICES, commentActions, describeActionFailure, formatSeconds } from "./moderation.js";
import { el } from "./dom.js";
import { fillMenu, isMenuOpen, isPicking, isThreadOpen, setMenuOpen, setPicking, setThreadOpen } from "./render.js";
import { BROWSER_TIMERS } from "./timers.js";

export const REACTIONS_KEY = "livecomments.reactions."; // + user id: the presses of this session
const REPLIES_NOTE_MS = 8000;
const ACTION_WHAT = { "timeout-60": "ban", "timeout-600": "ban" }; // what a failure is about

/** The request of a menu action on `comment`: {url, method, body?, done} (done: what to say
 * after it worked), or null for an action there is no such thing as. */
export function actionRequest(api, action, comment) {
  const id = encodeURIComponent(comment.id);
  const name = comment.user.name;
  if (action === "delete") return { url: `${api.comment}${id}`, method: "DELETE", done: "Comment deleted." };
  if (action === "pin") {
    return { url: api.pin, method: "PUT", body: { comment_id: comment.id }, done: "Comment pinned." };
  }
  if (action === "unpin") return { url: api.pin, method: "DELETE", done: "Unpinned." };
  if (action === "report") {
    return {
      url: `${api.comment}${id}/reports`,
      method: "POST",
      body: {},
      done: "Reported. Thank you: the moderators will have a look.",
    };
  }
  const ban = BAN_CHOICES.find((c) => c.action === action);
  if (ban === undefined) return null;
  return {
    url: `${api.bans}${encodeURIComponent(comment.user.id)}`,
    method: "PUT",
    body: ban.durationS === null ? {} : { duration_s: ban.durationS },
    done: ban.durationS === null ? `${name} is banned from this chat.` : `${name} can't post for ${formatSeconds(ban.durationS)}.`,
  };
}

export class CommentActions {
  /** `list`: the CommentList; `feed`: the Feed (replies); `stream`: the Stream (the pinned
   * comment); `composer`: the Composer (replying); `signIn`: the SignIn; `storage`: the tab's
   * sessionStorage, for this reader's reaction presses. */
  constructor({ doc, config, http, session, signIn, notices, list, feed, stream, reactions, composer, storage, timers = BROWSER_TIMERS }) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
    this.api = config.api;
    this.http = http;
    this.session = session;
    this.signIn = signIn;
    this.notices = notices;
    this.list = list;
    this.feed = feed;
    this.stream = stream;
    this.reactions = reactions;
    this.composer = composer;
    this.storage = storage;
    this.timers = timers;
    this.reported = new Set(); // ids this reader reported
    this.reacting = new Set(); // "id kind" with a request on the way
  }

  bind() {
    const stream = this.$("stream");
    stream.addEventListener("click", (event) => this.clicked(event.target.closest("button")));
    stream.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      const view = this.list.viewOf(event.target);
      if (!view) return;
      if (event.target.closest(".more-menu")) {
        this.setMenu(view, false);
        view.more.focus();
      } else if (event.target.closest(".reactions")) {
        this.setPicking(view, false);
        view.pick.focus();
      }
    });
    this.$("pinned-unpin").addEventListener("click", (event) => this.act("unpin", null, event.currentTarget));
  }

  clicked(target) {
    const view = this.list.viewOf(target);
    if (!target || !view || target.disabled) return;
    const has = (name) => target.classList.contains(name);
    if (has("thread-toggle")) this.toggleThread(view);
    else if (has("reply-button")) this.composer.startReply(view.comment.id, view.comment.user.name);
    else if (has("reaction")) this.react(view, target.dataset.kind);
    else if (has("react-pick")) this.setPicking(view, !isPicking(view));
    else if (has("more-button")) this.setMenu(view, !isMenuOpen(view));
    else if (target.dataset.action) this.act(target.dataset.action, view, target);
  }

  // -- threads --------------------------------------------------------------------------------

  toggleThread(view, open = !isThreadOpen(view)) {
    setThreadOpen(view, open);
    if (open) this.loadReplies(view);
  }

  /** Open the thread of a comment on screen (after this reader replied to it). */
  openThread(parentId) {
    const view = this.list.view(parentId);
    if (view !== undefined && view.thread !== null) this.toggleThread(view, true);
  }

  async loadReplies(view) {
    const parentId = view.comment.id;
    if (!this.feed.needsReplies(parentId)) return;
    const loading = el(this.doc, "li", "thread-note", "Loading replies…");
    view.thread.append(loading);
    try {
      await this.feed.loadReplies(parentId);
      loading.remove();
    } catch {
      loading.textContent = "Could not load the replies. Close and open the thread to try again.";
      this.timers.setTimeout(() => loading.remove(), REPLIES_NOTE_MS);
    }
  }

  // -- reactions ------------------------------------------------------------------------------

  setPicking(view, open) {
    setPicking(view, open);
    this.list.renderReactionsOf(view);
  }

  mineKey() {
    const current = this.session.current;
    return current ? `${REACTIONS_KEY}${current.userId}` : null;
  }

  /** This reader's presses, as saved for the tab (none when signed out). */
  loadMine() {
    let saved = [];
    const key = this.mineKey();
    if (key) {
      try {
        saved = JSON.parse(this.storage.getItem(key) || "[]");
      } catch {
        saved = [];
      }
    }
    this.reactions.useMine(saved);
    this.list.renderAllReactions();
  }

  saveMine() {
    const key = this.mineKey();
    if (key) this.storage.setItem(key, JSON.stringify(this.reactions.mineList()));
  }

  async react(view, kind) {
    const picking = isPicking(view);
    if (!this.session.signedIn) {
      if (picking) this.setPicking(view, false);
      this.signIn.need("Sign in to react.");
      return;
    }
    const id = view.comment.id;
    const key = `${id} ${kind}`;
    if (this.reacting.has(key)) return;
    this.reacting.add(key);
    const on = this.reactions.toggle(id, kind);
    if (picking) {
      this.setPicking(view, false);
      view.kinds.get(kind).button.focus();
    }
    this.list.renderReactionsOf(view);
    this.saveMine();
    const url = `${this.api.comment}${encodeURIComponent(id)}/reactions/${kind}`;
    const result = await this.http.request(url, { method: on ? "PUT" : "DELETE", token: this.session.token });
    this.reacting.delete(key);
    if (!result.ok) {
      this.reactions.undo(id, kind);
      this.list.renderReactions(id);
      this.saveMine();
      this.failed("react", result);
    }
  }

  // -- the "⋯" menu ---------------------------------------------------------------------------

  fillMenu(view) {
    const actions = commentActions(this.session.viewer, view.comment, this.stream.pinned?.id ?? null);
    fillMenu(this.doc, view, actions, this.reported.has(view.comment.id));
  }

  setMenu(view, open) {
    if (open) this.fillMenu(view);
    setMenuOpen(view, open);
  }

  openMenus() {
    return [...this.list.views.values()].filter(isMenuOpen);
  }

  /** The open menus again (the reader, or the pinned comment, changed). */
  refreshOpenMenus() {
    for (const view of this.openMenus()) this.fillMenu(view);
  }

  closeAllMenus() {
    for (const view of this.openMenus()) this.setMenu(view, false);
  }

  /** `view`: the comment's (null: the pinned box's Unpin); `trigger`: the button pressed. */
  async act(action, view, trigger) {
    if (!this.signIn.need("Sign in first.")) return;
    const comment = view?.comment ?? this.stream.pinned;
    if (!comment) return;
    const request = actionRequest(this.api, action, comment);
    if (request === null) return;
    trigger.disabled = true;
    const result = await this.http.request(request.url, {
      method: request.method,
      body: request.body,
      token: this.session.token,
    });
    trigger.disabled = false;
    if (!result.ok) {
      this.failed(ACTION_WHAT[action] ?? action, result);
      return;
    }
    if (action === "report") this.reported.add(comment.id);
    this.notices.toast(request.done);
    if (view === null) this.list.focusList(); // the pinned box goes away
    if (view !== null && view.item.isConnected) {
      this.setMenu(view, false);
      view.more.focus();
    }
  }

  /** A request of this reader's failed: sign out on a 401, else say why. */
  failed(what, result) {
    if (result.status === 401) this.signIn.signOut(describeActionFailure(what, 401));
    else this.notices.toast(describeActionFailure(what, result.status, result.error), true);
  }
}
