import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { actionRequest } from "../actions.js";
import { CommentList } from "../commentlist.js";
import {
  commentView,
  fillMenu,
  isThreadOpen,
  renderReactions,
  replyView,
  setPicking,
  setReplyCount,
  setThreadOpen,
} from "../render.js";
import { CommentReactions } from "../reactions.js";
import { FakeDocument, FakeTimers } from "./fakedom.mjs";

function comment(seq, extra = {}) {
  return { id: `c${seq}`, seq, parent_id: null, user: { id: "u1", name: "Alice" }, text: `<b>text ${seq}</b>`, ts: 1764000000000, reply_count: 0, ...extra };
}

const classes = (node) => node.children.map((c) => c.className);

describe("a comment's view", () => {
  it("has the parts the page and its users rely on, user text as text only", () => {
    const doc = new FakeDocument();
    const view = commentView(doc, comment(7), 2);
    assert.equal(view.item.className, "comment");
    assert.deepEqual(view.item.dataset, { id: "c7", seq: "7", replies: "2" });
    assert.deepEqual(classes(view.item), ["meta", "text", "actions", "more-menu", "replies"]);
    assert.equal(view.item.querySelector(".text").textContent, "<b>text 7</b>");
    assert.equal(view.item.querySelector(".text").children.length, 0);
    assert.equal(view.item.querySelector(".author").textContent, "Alice");
    assert.equal(view.item.querySelector("time").dateTime, new Date(1764000000000).toISOString());
    const actions = view.item.querySelector(".actions");
    assert.deepEqual(classes(actions), ["reactions", "reply-button", "thread-toggle", "more-button"]);
    assert.equal(actions.querySelector(".reply-button").getAttribute("aria-label"), "Reply to Alice");
    assert.equal(view.more.getAttribute("aria-controls"), "actions-c7");
    assert.equal(view.menu.id, "actions-c7");
    assert.equal(view.thread.id, "replies-c7");
    assert.equal(view.toggle.getAttribute("aria-controls"), "replies-c7");
    assert.equal(view.toggle.textContent, "2 replies");
    assert.equal(view.thread.hidden, true);
  });

  it("a reply has reactions and a menu, no thread", () => {
    const view = replyView(new FakeDocument(), comment(8, { parent_id: "c7" }));
    assert.equal(view.item.className, "reply");
    assert.deepEqual(classes(view.item), ["meta", "text", "actions", "more-menu"]);
    assert.equal(view.more.getAttribute("aria-label"), "More actions for Alice's reply");
    assert.equal(view.toggle, null);
  });

  it("the reply count toggle says how many, and Hide when open", () => {
    const view = commentView(new FakeDocument(), comment(1), 0);
    assert.equal(view.toggle.hidden, true);
    setReplyCount(view, 1);
    assert.equal(view.toggle.textContent, "1 reply");
    assert.equal(view.toggle.hidden, false);
    setThreadOpen(view, true);
    assert.equal(isThreadOpen(view), true);
    assert.equal(view.thread.hidden, false);
    assert.equal(view.toggle.textContent, "Hide 1 reply");
  });

  it("shows the reactions with counts or pressed; the picker shows them all", () => {
    const view = commentView(new FakeDocument(), comment(1), 0);
    const shown = () => [...view.kinds].filter(([, k]) => !k.button.hidden).map(([kind]) => kind);
    renderReactions(view, { like: 3, wow: 1200 }, (kind) => kind === "sad");
    assert.deepEqual(shown(), ["like", "wow", "sad"]);
    assert.equal(view.kinds.get("wow").n.textContent, "1.2K");
    assert.equal(view.kinds.get("sad").button.getAttribute("aria-pressed"), "true");
    assert.equal(view.kinds.get("like").button.getAttribute("aria-label"), "Like (3)");
    setPicking(view, true);
    renderReactions(view, { like: 3 }, () => false);
    assert.equal(shown().length, 6);
    assert.equal(view.pick.getAttribute("aria-label"), "Close the reactions");
  });

  it("fills the menu with the actions offered", () => {
    const doc = new FakeDocument();
    const view = commentView(doc, comment(1), 0);
    fillMenu(doc, view, ["delete", "pin", "timeout-60", "ban"], false);
    assert.deepEqual(view.menu.children.map((b) => b.textContent), ["Delete", "Pin", "Time out 1 min", "Ban"]);
    assert.deepEqual(view.menu.children.map((b) => b.dataset.action), ["delete", "pin", "timeout-60", "ban"]);
    fillMenu(doc, view, ["report"], true);
    assert.equal(view.menu.children[0].textContent, "Reported");
    assert.equal(view.menu.children[0].disabled, true);
    fillMenu(doc, view, [], false);
    assert.equal(view.menu.textContent, "Sign in to report or delete.");
  });
});

function page() {
  const doc = new FakeDocument();
  const scroller = doc.add("div", "stream-scroll");
  doc.add("p", "stream-empty", { parent: scroller });
  doc.add("ol", "stream", { parent: scroller });
  doc.add("button", "new-comments").hidden = true;
  const pinned = doc.add("section", "pinned");
  doc.add("span", "", { parent: pinned, className: "author" });
  doc.add("p", "", { parent: pinned, className: "text" });
  const timers = new FakeTimers();
  const frames = { queue: [], request(fn) { this.queue.push(fn); return this.queue.length; }, cancel() {} };
  const said = [];
  const pins = [];
  const list = new CommentList({ doc, reactions: new CommentReactions(), say: (m) => said.push(m), hooks: { pinned: (c) => pins.push(c) }, timers, frames });
  list.bind();
  return { doc, list, timers, frames, said, pins, scroller };
}

const ids = (node) => node.children.map((c) => c.dataset.id);

describe("CommentList", () => {
  it("applies the stream's operations in one frame, in place", () => {
    const { doc, list, frames } = page();
    list.enqueue([
      { op: "add", comment: comment(1), count: 0, before: null, source: "recent" },
      { op: "add", comment: comment(3), count: 0, before: null, source: "live" },
    ]);
    list.enqueue([{ op: "add", comment: comment(2), count: 0, before: "c3", source: "backfill" }]);
    assert.equal(frames.queue.length, 1, "one frame for both");
    assert.deepEqual(ids(doc.getElementById("stream")), []);
    frames.queue[0]();
    assert.deepEqual(ids(doc.getElementById("stream")), ["c1", "c2", "c3"]);
    assert.equal(doc.getElementById("stream-empty").hidden, true);

    const thread = list.view("c1").thread;
    list.enqueue([
      { op: "reply", comment: comment(5, { parent_id: "c1" }), before: null },
      { op: "reply", comment: comment(4, { parent_id: "c1" }), before: "c5" },
      { op: "count", id: "c1", count: 2 },
    ]);
    list.flush();
    assert.deepEqual(ids(thread), ["c4", "c5"]);
    assert.equal(list.view("c1").toggle.textContent, "2 replies");

    list.enqueue([{ op: "remove", id: "c1" }, { op: "remove", id: "nope" }]);
    list.flush();
    assert.deepEqual(ids(doc.getElementById("stream")), ["c2", "c3"]);
    assert.equal(list.view("c4"), undefined, "its replies went with it");
  });

  it("the pinned box follows the pin operations", () => {
    const { doc, list, pins } = page();
    list.enqueue([{ op: "pin", comment: comment(9) }]);
    list.flush();
    assert.equal(doc.getElementById("pinned").hidden, false);
    assert.equal(doc.getElementById("pinned").querySelector(".text").textContent, "<b>text 9</b>");
    list.enqueue([{ op: "pin", comment: null }]);
    list.flush();
    assert.equal(doc.getElementById("pinned").hidden, true);
    assert.deepEqual(pins.map((c) => c?.id ?? null), ["c9", null]);
  });

  it("away from the bottom, counts the new comments on a button and announces them now and then", () => {
    const { doc, list, timers, said, scroller } = page();
    scroller.scrollHeight = 1000;
    scroller.clientHeight = 100;
    scroller.scrollTop = 0; // scrolled up
    list.enqueue([
      { op: "add", comment: comment(1), count: 0, before: null, source: "recent" },
      { op: "add", comment: comment(2), count: 0, before: null, source: "live" },
    ]);
    list.flush();
    const button = doc.getElementById("new-comments");
    assert.equal(button.hidden, false);
    assert.equal(button.textContent, "1 new comment ↓", "the snapshot's comments are not new");
    list.enqueue([{ op: "add", comment: comment(3), count: 0, before: null, source: "live" }]);
    list.flush();
    assert.equal(button.textContent, "2 new comments ↓");
    timers.advance(0);
    assert.deepEqual(said, ["2 new comments"]);
    button.click();
    assert.equal(button.hidden, true);
    assert.equal(scroller.scrollTop, 1000);
  });
});

describe("actionRequest", () => {
  const api = { comment: "/api/comments/", pin: "/api/videos/v1/pin", bans: "/api/videos/v1/bans/" };
  const c = comment(1, { id: "c 1", user: { id: "u/1", name: "Al" } });

  it("is one request per action, ids escaped", () => {
    assert.deepEqual(actionRequest(api, "delete", c), { url: "/api/comments/c%201", method: "DELETE", done: "Comment deleted." });
    assert.deepEqual(actionRequest(api, "pin", c), { url: api.pin, method: "PUT", body: { comment_id: "c 1" }, done: "Comment pinned." });
    assert.deepEqual(actionRequest(api, "unpin", c), { url: api.pin, method: "DELETE", done: "Unpinned." });
    assert.equal(actionRequest(api, "report", c).url, "/api/comments/c%201/reports");
    assert.deepEqual(actionRequest(api, "timeout-600", c), {
      url: "/api/videos/v1/bans/u%2F1",
      method: "PUT",
      body: { duration_s: 600 },
      done: "Al can't post for 10 min.",
    });
    assert.deepEqual(actionRequest(api, "ban", c).body, {});
    assert.equal(actionRequest(api, "ban", c).done, "Al is banned from this chat.");
    assert.equal(actionRequest(api, "launch", c), null);
  });
});
