// The elements of one comment or reply: building them and bringing them up to date (reaction
// counts, reply count, the actions menu). Each is described by a "view": the <li> and the parts
// later updates touch, so nothing here searches the document. No state of its own, no network.

import { BAN_CHOICES } from "./moderation.js";
import { EMOJI, KINDS, LABELS, formatCount } from "./reactions.js";
import { button, el, timeOf } from "./dom.js";

export const ACTION_LABELS = Object.freeze({
  delete: "Delete",
  pin: "Pin",
  unpin: "Unpin",
  report: "Report",
  ...Object.fromEntries(BAN_CHOICES.map((c) => [c.action, c.label])),
});

/** "Alice's comment" or "Alice's reply", for labels. */
export function whose(comment) {
  return `${comment.user.name}'s ${comment.parent_id ? "reply" : "comment"}`;
}

function metaLine(doc, comment) {
  const meta = el(doc, "p", "meta");
  meta.append(el(doc, "span", "author", comment.user.name));
  const time = timeOf(doc, comment.ts);
  if (time !== null) meta.append(time);
  return meta;
}

function reactionBar(doc, comment) {
  const bar = el(doc, "div", "reactions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", `Reactions to ${whose(comment)}`);
  const kinds = new Map();
  for (const kind of KINDS) {
    const b = button(doc, "reaction");
    b.dataset.kind = kind;
    b.setAttribute("aria-pressed", "false");
    const emoji = el(doc, "span", "emoji", EMOJI[kind]);
    emoji.setAttribute("aria-hidden", "true");
    const n = el(doc, "span", "n");
    b.append(emoji, n);
    bar.append(b);
    kinds.set(kind, { button: b, n });
  }
  const pick = button(doc, "react-pick", undefined, "Add a reaction");
  pick.setAttribute("aria-expanded", "false");
  const face = el(doc, "span", "emoji", "🙂");
  face.setAttribute("aria-hidden", "true");
  const plus = el(doc, "span", "plus", "+");
  plus.setAttribute("aria-hidden", "true");
  pick.append(face, plus);
  bar.append(pick);
  return { bar, kinds, pick };
}

function moreButton(doc, comment) {
  const more = button(doc, "more-button", "⋯", `More actions for ${whose(comment)}`);
  more.setAttribute("aria-expanded", "false");
  more.setAttribute("aria-controls", `actions-${comment.id}`);
  return more;
}

function moreMenu(doc, comment) {
  const menu = el(doc, "div", "more-menu");
  menu.id = `actions-${comment.id}`;
  menu.setAttribute("role", "group");
  menu.setAttribute("aria-label", `Actions for ${whose(comment)}`);
  menu.hidden = true;
  return menu;
}

/** A top-level comment: {item, comment, kinds, pick, more, menu, toggle, thread}. */
export function commentView(doc, comment, count) {
  const item = el(doc, "li", "comment");
  item.dataset.id = comment.id;
  item.dataset.seq = String(comment.seq);
  item.append(metaLine(doc, comment), el(doc, "p", "text", comment.text));
  const actions = el(doc, "div", "actions");
  const { bar, kinds, pick } = reactionBar(doc, comment);
  const reply = button(doc, "reply-button", "Reply", `Reply to ${comment.user.name}`);
  const toggle = button(doc, "thread-toggle");
  toggle.setAttribute("aria-expanded", "false");
  const thread = el(doc, "ol", "replies");
  thread.id = `replies-${comment.id}`;
  thread.hidden = true;
  thread.setAttribute("aria-label", `Replies to ${comment.user.name}`);
  toggle.setAttribute("aria-controls", thread.id);
  const more = moreButton(doc, comment);
  const menu = moreMenu(doc, comment);
  actions.append(bar, reply, toggle, more);
  item.append(actions, menu, thread);
  const view = { item, comment, kinds, pick, more, menu, toggle, thread };
  setReplyCount(view, count);
  return view;
}

/** A reply, in its parent's thread: {item, comment, kinds, pick, more, menu}. */
export function replyView(doc, reply) {
  const item = el(doc, "li", "reply");
  item.dataset.id = reply.id;
  const actions = el(doc, "div", "actions");
  const { bar, kinds, pick } = reactionBar(doc, reply);
  const more = moreButton(doc, reply);
  const menu = moreMenu(doc, reply);
  actions.append(bar, more);
  item.append(metaLine(doc, reply), el(doc, "p", "text", reply.text), actions, menu);
  return { item, comment: reply, kinds, pick, more, menu, toggle: null, thread: null };
}

export function isPicking(view) {
  return view.pick.getAttribute("aria-expanded") === "true";
}

/** Open or close the reaction picker (render the reactions again afterwards). */
export function setPicking(view, open) {
  view.pick.setAttribute("aria-expanded", String(open));
  view.pick.setAttribute("aria-label", open ? "Close the reactions" : "Add a reaction");
}

/** The reaction buttons as `counts` ({kind: n}) and `pressed(kind)` say: a kind with no count
 * and not pressed is hidden unless the picker is open. */
export function renderReactions(view, counts, pressed) {
  const picking = isPicking(view);
  for (const [kind, { button: b, n: label }] of view.kinds) {
    const n = counts[kind] ?? 0;
    const on = pressed(kind);
    b.setAttribute("aria-pressed", String(on));
    b.setAttribute("aria-label", `${LABELS[kind]} (${n})`);
    label.textContent = n > 0 ? formatCount(n) : "";
    b.hidden = n === 0 && !on && !picking;
  }
}

export function isThreadOpen(view) {
  return view.toggle !== null && view.toggle.getAttribute("aria-expanded") === "true";
}

/** The "3 replies" / "Hide 3 replies" toggle of a top-level comment. */
export function setReplyCount(view, count) {
  if (view.toggle === null) return;
  view.item.dataset.replies = String(count);
  const open = isThreadOpen(view);
  const label = `${count} ${count === 1 ? "reply" : "replies"}`;
  view.toggle.textContent = open ? `Hide ${label}` : label;
  view.toggle.hidden = count === 0 && !open;
}

/** Show or hide the thread (fetch its replies when it opens: the caller's part). */
export function setThreadOpen(view, open) {
  view.toggle.setAttribute("aria-expanded", String(open));
  view.thread.hidden = !open;
  setReplyCount(view, Number(view.item.dataset.replies));
}

export function isMenuOpen(view) {
  return view.more.getAttribute("aria-expanded") === "true";
}

/** The menu's buttons: `actions` as moderation.commentActions gives them; `reported`: whether
 * this reader reported the comment already. */
export function fillMenu(doc, view, actions, reported) {
  view.menu.replaceChildren(
    ...actions.map((action) => {
      const done = action === "report" && reported;
      const b = button(doc, `menu-action action-${action}`, done ? "Reported" : ACTION_LABELS[action]);
      b.dataset.action = action;
      b.disabled = done;
      return b;
    }),
  );
  if (!actions.length) view.menu.append(el(doc, "span", "menu-note", "Sign in to report or delete."));
}

export function setMenuOpen(view, open) {
  view.menu.hidden = !open;
  view.more.setAttribute("aria-expanded", String(open));
}

/** The pinned box ({box, author, text}: the template's elements) for `comment`, or hidden (null). */
export function renderPinned(pinned, comment) {
  pinned.box.hidden = comment === null;
  if (comment === null) return;
  pinned.author.textContent = comment.user.name;
  pinned.text.textContent = comment.text;
}
