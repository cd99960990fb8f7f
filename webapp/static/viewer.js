// The viewer page: MQTT over WebSocket straight to the broker (MQTT.js), the DOM, and posting
// over HTTP. What to render and what to fetch is decided by stream.js; which topics to hold by
// subscriptions.js (`recent` only for a short grace after its snapshot came); when to reconnect by backoff.js; what
// a failed post means by posting.js; reaction counts by reactions.js; who may do what by
// moderation.js; the moderator's panels are panels.js. User text only ever goes in textContent.

import mqtt from "./vendor/mqtt.esm.js";
import { call } from "./api.js";
import { Failover, backoffDelay, secondsLeft } from "./backoff.js";
import {
  BAN_CHOICES,
  commentActions,
  describeActionFailure,
  extendDeadline,
  formatSeconds,
  isModerator,
  slowModeWait,
  tokenClaims,
} from "./moderation.js";
import { setupPanels } from "./panels.js";
import { MAX_POST_RETRIES, checkDraft, codePointCount, describeFailure, retryAfterSeconds } from "./posting.js";
import { CommentReactions, EMOJI, KINDS, LABELS, LiveTotals, MAX_FLOATING, formatCount } from "./reactions.js";
import { Stream } from "./stream.js";
import { SNAPSHOT_WAIT_MS, Subscriptions } from "./subscriptions.js";

const config = JSON.parse(document.getElementById("viewer-config").textContent);
const $ = (id) => document.getElementById(id);

const INITIAL_WAIT_MS = SNAPSHOT_WAIT_MS; // for the retained `recent`, before reading the history instead
const SUBSCRIBE_TIMEOUT_MS = 15000;
const HISTORY_PAGE = 200;
const AT_BOTTOM_PX = 48;
const ANNOUNCE_EVERY_MS = 4000;
const FLUSH_FALLBACK_MS = 1000; // requestAnimationFrame does not run in a hidden tab
const SESSION_KEY = "livecomments.session";
const REACTIONS_KEY = "livecomments.reactions."; // + user id: the presses of this session
const MAX_TEXT = config.maxTextCodePoints;
const TOAST_MS = 5000;
const FLOAT_MS = 3000;

const stream = new Stream();
const reactions = new CommentReactions();
const live = new LiveTotals();
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

// -- rendering: one requestAnimationFrame per batch of operations --------------------------------

const scroller = $("stream-scroll");
const list = $("stream");
const elements = new Map(); // comment or reply id -> <li>
const shownComment = new WeakMap(); // <li> -> its comment
const reported = new Set(); // ids this reader reported
let queue = [];
let frame = 0;
let fallbackTimer = 0;
let unseen = 0;
let toAnnounce = 0;
let lastAnnounced = 0;
let announceTimer = 0;

function enqueue(ops) {
  if (!ops.length) return;
  queue.push(...ops);
  if (frame === 0) {
    frame = requestAnimationFrame(flush);
    fallbackTimer = setTimeout(flush, FLUSH_FALLBACK_MS);
  }
}

function isAtBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= AT_BOTTOM_PX;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function flush() {
  cancelAnimationFrame(frame);
  clearTimeout(fallbackTimer);
  frame = 0;
  const ops = queue;
  queue = [];
  const atBottom = isAtBottom();
  let fresh = 0;
  for (const op of ops) {
    if (applyOp(op) && op.source !== "recent") fresh += 1;
  }
  $("stream-empty").hidden = list.childElementCount > 0;
  if (atBottom) {
    scrollToBottom();
  } else if (fresh > 0) {
    unseen += fresh;
    const button = $("new-comments");
    button.textContent = `${unseen} new ${unseen === 1 ? "comment" : "comments"} ↓`;
    button.hidden = false;
  }
  if (fresh > 0) announce(fresh);
}

function applyOp(op) {
  switch (op.op) {
    case "add": {
      const item = commentElement(op.comment, op.count);
      list.insertBefore(item, (op.before && elements.get(op.before)) || null);
      return true;
    }
    case "reply": {
      const parent = elements.get(op.comment.parent_id);
      if (parent === undefined) return false;
      const thread = parent.querySelector(".replies");
      thread.insertBefore(replyElement(op.comment), (op.before && elements.get(op.before)) || null);
      return false;
    }
    case "remove": {
      const item = elements.get(op.id);
      if (item !== undefined) {
        if (item.contains(document.activeElement)) scroller.focus({ preventScroll: true });
        item.remove();
        elements.delete(op.id);
        for (const reply of item.querySelectorAll(".reply")) elements.delete(reply.dataset.id);
      }
      return false;
    }
    case "count": {
      const item = elements.get(op.id);
      if (item !== undefined) setReplyCount(item, op.count);
      return false;
    }
    case "pin":
      renderPinned(op.comment);
      return false;
    default:
      return false;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function metaLine(comment) {
  const meta = el("p", "meta");
  meta.append(el("span", "author", comment.user.name));
  if (comment.ts > 0) {
    const when = new Date(comment.ts);
    const time = el("time", "when", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = when.toISOString();
    meta.append(time);
  }
  return meta;
}

function button(className, text, label) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

function commentElement(comment, count) {
  const item = el("li", "comment");
  item.dataset.id = comment.id;
  item.dataset.seq = String(comment.seq);
  item.append(metaLine(comment), el("p", "text", comment.text));
  const actions = el("div", "actions");
  const reply = button("reply-button", "Reply", `Reply to ${comment.user.name}`);
  const toggle = button("thread-toggle");
  toggle.setAttribute("aria-expanded", "false");
  const thread = el("ol", "replies");
  thread.id = `replies-${comment.id}`;
  thread.hidden = true;
  thread.setAttribute("aria-label", `Replies to ${comment.user.name}`);
  toggle.setAttribute("aria-controls", thread.id);
  actions.append(reactionBar(comment), reply, toggle, moreButton(comment));
  item.append(actions, moreMenu(comment), thread);
  elements.set(comment.id, item);
  shownComment.set(item, comment);
  setReplyCount(item, count);
  renderReactions(comment.id);
  return item;
}

function replyElement(reply) {
  const item = el("li", "reply");
  item.dataset.id = reply.id;
  const actions = el("div", "actions");
  actions.append(reactionBar(reply), moreButton(reply));
  item.append(metaLine(reply), el("p", "text", reply.text), actions, moreMenu(reply));
  elements.set(reply.id, item);
  shownComment.set(item, reply);
  renderReactions(reply.id);
  return item;
}

function whose(comment) {
  return `${comment.user.name}'s ${comment.parent_id ? "reply" : "comment"}`;
}

// -- reactions on comments ----------------------------------------------------------------------

function reactionBar(comment) {
  const bar = el("div", "reactions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", `Reactions to ${whose(comment)}`);
  for (const kind of KINDS) {
    const b = button("reaction");
    b.dataset.kind = kind;
    b.setAttribute("aria-pressed", "false");
    const emoji = el("span", "emoji", EMOJI[kind]);
    emoji.setAttribute("aria-hidden", "true");
    b.append(emoji, el("span", "n"));
    bar.append(b);
  }
  const pick = button("react-pick", undefined, "Add a reaction");
  pick.setAttribute("aria-expanded", "false");
  const face = el("span", "emoji", "🙂");
  face.setAttribute("aria-hidden", "true");
  const plus = el("span", "plus", "+");
  plus.setAttribute("aria-hidden", "true");
  pick.append(face, plus);
  bar.append(pick);
  return bar;
}

function renderReactions(id) {
  const item = elements.get(id);
  if (item === undefined) return;
  const bar = item.querySelector(":scope > .actions > .reactions");
  const picking = bar.querySelector(".react-pick").getAttribute("aria-expanded") === "true";
  const counts = reactions.get(id);
  for (const b of bar.querySelectorAll(".reaction")) {
    const kind = b.dataset.kind;
    const n = counts[kind] ?? 0;
    const pressed = reactions.pressed(id, kind);
    b.setAttribute("aria-pressed", String(pressed));
    b.setAttribute("aria-label", `${LABELS[kind]} (${n})`);
    b.querySelector(".n").textContent = n > 0 ? formatCount(n) : "";
    b.hidden = n === 0 && !pressed && !picking;
  }
}

function renderAllReactions() {
  for (const id of elements.keys()) renderReactions(id);
}

function setPicking(item, open) {
  const pick = item.querySelector(":scope > .actions > .reactions > .react-pick");
  pick.setAttribute("aria-expanded", String(open));
  pick.setAttribute("aria-label", open ? "Close the reactions" : "Add a reaction");
  renderReactions(item.dataset.id);
}

function mineKey() {
  return session ? `${REACTIONS_KEY}${session.userId}` : null;
}

function loadMine() {
  let saved = [];
  const key = mineKey();
  if (key) {
    try {
      saved = JSON.parse(sessionStorage.getItem(key) || "[]");
    } catch {
      saved = [];
    }
  }
  reactions.useMine(saved);
  renderAllReactions();
}

function saveMine() {
  const key = mineKey();
  if (key) sessionStorage.setItem(key, JSON.stringify(reactions.mineList()));
}

const reacting = new Set(); // "id kind" with a request on the way

async function react(item, kind) {
  const picking =
    item.querySelector(":scope > .actions > .reactions > .react-pick").getAttribute("aria-expanded") === "true";
  if (session === null) {
    if (picking) setPicking(item, false);
    needSignIn("Sign in to react.");
    return;
  }
  const id = item.dataset.id;
  const key = `${id} ${kind}`;
  if (reacting.has(key)) return;
  reacting.add(key);
  const on = reactions.toggle(id, kind);
  if (picking) {
    setPicking(item, false);
    item.querySelector(`:scope > .actions > .reactions > .reaction[data-kind="${kind}"]`).focus();
  }
  renderReactions(id);
  saveMine();
  const url = `${config.api.comment}${encodeURIComponent(id)}/reactions/${kind}`;
  const result = await call(url, { method: on ? "PUT" : "DELETE", token: session?.token });
  reacting.delete(key);
  if (!result.ok) {
    reactions.undo(id, kind);
    renderReactions(id);
    saveMine();
    actionFailed("react", result);
  }
}

// -- the actions of a comment: delete, pin, ban, report ------------------------------------------

const ACTION_LABELS = {
  delete: "Delete",
  pin: "Pin",
  unpin: "Unpin",
  report: "Report",
  ...Object.fromEntries(BAN_CHOICES.map((c) => [c.action, c.label])),
};

function moreButton(comment) {
  const more = button("more-button", "⋯", `More actions for ${whose(comment)}`);
  more.setAttribute("aria-expanded", "false");
  more.setAttribute("aria-controls", `actions-${comment.id}`);
  return more;
}

function moreMenu(comment) {
  const menu = el("div", "more-menu");
  menu.id = `actions-${comment.id}`;
  menu.setAttribute("role", "group");
  menu.setAttribute("aria-label", `Actions for ${whose(comment)}`);
  menu.hidden = true;
  return menu;
}

function viewer() {
  return session ? { userId: session.userId, roles: session.roles } : null;
}

function fillMenu(item) {
  const comment = shownComment.get(item);
  const menu = item.querySelector(":scope > .more-menu");
  const actions = commentActions(viewer(), comment, stream.pinned?.id ?? null);
  menu.replaceChildren(
    ...actions.map((action) => {
      const done = action === "report" && reported.has(comment.id);
      const b = button(`menu-action action-${action}`, done ? "Reported" : ACTION_LABELS[action]);
      b.dataset.action = action;
      b.disabled = done;
      return b;
    }),
  );
  if (!actions.length) menu.append(el("span", "menu-note", "Sign in to report or delete."));
}

function setMenu(item, open) {
  const more = item.querySelector(":scope > .actions > .more-button");
  const menu = item.querySelector(":scope > .more-menu");
  if (open) fillMenu(item);
  menu.hidden = !open;
  more.setAttribute("aria-expanded", String(open));
}

function openMenus() {
  return [...elements.values()].filter(
    (item) => item.querySelector(":scope > .actions > .more-button")?.getAttribute("aria-expanded") === "true",
  );
}

function refreshOpenMenus() {
  for (const item of openMenus()) fillMenu(item);
}

function closeAllMenus() {
  for (const item of openMenus()) setMenu(item, false);
}

const ACTION_WHAT = { "timeout-60": "ban", "timeout-600": "ban" };

async function act(action, item, trigger) {
  if (!needSignIn("Sign in first.")) return;
  const comment = shownComment.get(item) ?? stream.pinned;
  if (!comment) return;
  const id = encodeURIComponent(comment.id);
  const name = comment.user.name;
  const ban = BAN_CHOICES.find((c) => c.action === action);
  let request;
  let done;
  if (action === "delete") {
    request = [`${config.api.comment}${id}`, { method: "DELETE" }];
    done = "Comment deleted.";
  } else if (action === "pin") {
    request = [config.api.pin, { method: "PUT", body: { comment_id: comment.id } }];
    done = "Comment pinned.";
  } else if (action === "unpin") {
    request = [config.api.pin, { method: "DELETE" }];
    done = "Unpinned.";
  } else if (action === "report") {
    request = [`${config.api.comment}${id}/reports`, { method: "POST", body: {} }];
    done = "Reported. Thank you: the moderators will have a look.";
  } else if (ban !== undefined) {
    const body = ban.durationS === null ? {} : { duration_s: ban.durationS };
    request = [`${config.api.bans}${encodeURIComponent(comment.user.id)}`, { method: "PUT", body }];
    done = ban.durationS === null
      ? `${name} is banned from this chat.`
      : `${name} can't post for ${formatSeconds(ban.durationS)}.`;
  } else {
    return;
  }
  trigger.disabled = true;
  const result = await call(request[0], { ...request[1], token: session?.token });
  trigger.disabled = false;
  if (!result.ok) {
    actionFailed(ACTION_WHAT[action] ?? action, result);
    return;
  }
  if (action === "report") reported.add(comment.id);
  notify(done);
  if (trigger.id === "pinned-unpin") scroller.focus({ preventScroll: true }); // the box goes away
  if (item.isConnected && item.querySelector(":scope > .more-menu")) {
    setMenu(item, false);
    item.querySelector(":scope > .actions > .more-button").focus();
  }
}

function actionFailed(what, result) {
  if (result.status === 401) signOut(describeActionFailure(what, 401));
  else notify(describeActionFailure(what, result.status, result.error), true);
}

let toastTimer = 0;

/** A short message over the stream, said politely to screen readers. */
function notify(message, isError = false) {
  const toast = $("toast");
  toast.textContent = message;
  toast.classList.toggle("error", isError);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.textContent = "";
  }, TOAST_MS);
}

/** Whether the reader is signed in; if not, say so and take them to the sign-in. */
function needSignIn(message) {
  if (session !== null) return true;
  setStatus(message, true);
  (config.api.devToken ? $("sign-in-name") : $("token-input")).focus();
  return false;
}

// -- live reactions: the video's totals and floating hearts ---------------------------------------

const floaters = $("floaters");
const LIVE_ORDER = ["love", ...KINDS.filter((k) => k !== "love")];

function liveButtons() {
  const group = $("live-buttons");
  for (const kind of LIVE_ORDER) {
    const b = button(`live-button${kind === "love" ? " primary" : ""}`, undefined, `Send a live reaction: ${LABELS[kind]}`);
    b.dataset.kind = kind;
    const emoji = el("span", "emoji", EMOJI[kind]);
    emoji.setAttribute("aria-hidden", "true");
    b.append(emoji);
    group.append(b);
  }
  group.addEventListener("click", (event) => {
    const b = event.target.closest("button");
    if (b) sendLive(b.dataset.kind);
  });
}

function showLiveTotal() {
  $("live-total").textContent = formatCount(live.total);
}

function float(kind) {
  if (reducedMotion.matches || floaters.childElementCount >= MAX_FLOATING) return;
  const heart = el("span", `floater floater-${kind}`, EMOJI[kind]);
  // CSSOM, not a style attribute: allowed by the CSP
  heart.style.setProperty("--drift", `${Math.round(Math.random() * 48 - 24)}px`);
  heart.style.setProperty("--start", `${Math.round(Math.random() * 32)}px`);
  const remove = () => heart.remove();
  heart.addEventListener("animationend", remove);
  setTimeout(remove, FLOAT_MS + 500); // animations do not run in a hidden tab
  floaters.append(heart);
}

async function sendLive(kind) {
  if (!needSignIn("Sign in to react.")) return;
  live.click(kind);
  float(kind);
  showLiveTotal();
  const result = await call(config.api.liveReactions, { method: "POST", token: session?.token, body: { kind } });
  if (!result.ok) {
    live.failed(kind);
    showLiveTotal();
    actionFailed("react", result);
  }
}

function onReactions(doc, retained) {
  for (const id of reactions.onSnapshot(doc.comments)) renderReactions(id);
  const kinds = live.onSnapshot(doc.video, { retained, room: MAX_FLOATING - floaters.childElementCount });
  kinds.forEach((kind, i) => setTimeout(() => float(kind), i * 150));
  showLiveTotal();
}

/** Comments that came after the snapshot are in the recent window now (the `reactions` topic
 * speaks for them), since the page no longer hears `recent` itself. */
function enterWindow(comments) {
  if (!Array.isArray(comments)) return;
  for (const c of comments) if (c && typeof c === "object") reactions.enterWindow(c.id, c.seq);
}

/** Counts carried by comment payloads (events, snapshots, history) count until the topic speaks. */
function seenComments(comments) {
  if (!Array.isArray(comments)) return;
  for (const c of comments) {
    if (c && typeof c === "object" && reactions.seen(c.id, c.reactions)) renderReactions(c.id);
  }
}

function setReplyCount(item, count) {
  item.dataset.replies = String(count);
  const toggle = item.querySelector(".thread-toggle");
  const open = toggle.getAttribute("aria-expanded") === "true";
  const label = `${count} ${count === 1 ? "reply" : "replies"}`;
  toggle.textContent = open ? `Hide ${label}` : label;
  toggle.hidden = count === 0 && !open;
}

function renderPinned(comment) {
  const box = $("pinned");
  box.hidden = comment === null;
  refreshOpenMenus(); // a menu offers Pin or Unpin
  if (comment === null) return;
  box.querySelector(".author").textContent = comment.user.name;
  box.querySelector(".text").textContent = comment.text;
}

/** Tell screen-reader users something once, politely (never every comment). */
function say(message) {
  $("announcer").textContent = message;
}

function announce(count) {
  toAnnounce += count;
  if (announceTimer) return;
  const wait = Math.max(0, lastAnnounced + ANNOUNCE_EVERY_MS - Date.now());
  announceTimer = setTimeout(() => {
    announceTimer = 0;
    lastAnnounced = Date.now();
    say(`${toAnnounce} new ${toAnnounce === 1 ? "comment" : "comments"}`);
    toAnnounce = 0;
  }, wait);
}

scroller.addEventListener("scroll", () => {
  if (isAtBottom()) {
    unseen = 0;
    $("new-comments").hidden = true;
  }
});

$("new-comments").addEventListener("click", () => {
  scrollToBottom();
  unseen = 0;
  $("new-comments").hidden = true;
});

// -- the buttons of comments and replies --------------------------------------------------------

list.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  const item = target?.closest(".reply, .comment");
  if (!target || !item || target.disabled) return;
  const has = (name) => target.classList.contains(name);
  if (has("thread-toggle")) toggleThread(item, target);
  else if (has("reply-button")) startReply(item);
  else if (has("reaction")) react(item, target.dataset.kind);
  else if (has("react-pick")) setPicking(item, target.getAttribute("aria-expanded") !== "true");
  else if (has("more-button")) setMenu(item, target.getAttribute("aria-expanded") !== "true");
  else if (target.dataset.action) act(target.dataset.action, item, target);
});

list.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const item = event.target.closest(".reply, .comment");
  if (!item) return;
  if (event.target.closest(".more-menu")) {
    setMenu(item, false);
    item.querySelector(":scope > .actions > .more-button").focus();
  } else if (event.target.closest(".reactions")) {
    setPicking(item, false);
    item.querySelector(":scope > .actions > .reactions > .react-pick").focus();
  }
});

$("pinned-unpin").addEventListener("click", (event) => act("unpin", $("pinned"), event.currentTarget));

// -- threads ------------------------------------------------------------------------------------

function toggleThread(item, button, open = button.getAttribute("aria-expanded") !== "true") {
  button.setAttribute("aria-expanded", String(open));
  item.querySelector(".replies").hidden = !open;
  setReplyCount(item, Number(item.dataset.replies));
  if (open) loadReplies(item.dataset.id, item);
}

async function loadReplies(parentId, item) {
  if (!stream.needsReplies(parentId)) return;
  const thread = item.querySelector(".replies");
  const loading = el("li", "thread-note", "Loading replies…");
  thread.append(loading);
  try {
    const body = await getJSON(`${config.api.comments}?parent_id=${encodeURIComponent(parentId)}&limit=${HISTORY_PAGE}`);
    seenComments(body.comments);
    enqueue(stream.onReplies(parentId, body.comments));
    loading.remove();
  } catch {
    loading.textContent = "Could not load the replies. Close and open the thread to try again.";
    setTimeout(() => loading.remove(), 8000);
  }
}

// -- connection: MQTT.js with its own retry off, our backoff with jitter and failover ------------

const decoder = new TextDecoder();
const failover = new Failover(config.brokerUrls);
const topics = config.topics;
const subscriptions = new Subscriptions(topics);
let everLive = false;
let gotState = false;
let retryAt = 0;
let retryTimer = 0;
let countdownTimer = 0;

function setConnection(state, text) {
  const box = $("connection");
  const changed = box.dataset.state !== state;
  box.dataset.state = state;
  $("connection-text").textContent = text;
  return changed;
}

function showCountdown() {
  const left = secondsLeft(retryAt, Date.now());
  setConnection("reconnecting", left > 0 ? `Reconnecting in ${left} s…` : "Reconnecting…");
}

function connect() {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  retryTimer = 0;
  const url = failover.url;
  if (everLive) setConnection("reconnecting", "Reconnecting…");
  else setConnection("connecting", "Connecting…");
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0, // no built-in retry: every second, in lockstep, is not acceptable at scale
    connectTimeout: 10000,
    keepalive: 60,
    // Plain timers: MQTT.js's default starts a Worker from a blob: URL, which this page's CSP
    // (no blob: workers, Trusted Types) does not allow.
    timerVariant: "native",
    clean: true,
    resubscribe: false,
    clientId: `viewer-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
  });
  let over = false;
  let session = 0; // this connection's session in subscriptions.js
  let leaveTimer = 0;
  let leaveTimerAt = null;
  const watchdog = setTimeout(() => lost("no subscription in time"), SUBSCRIBE_TIMEOUT_MS);

  function lost(reason) {
    if (over) return;
    over = true;
    subscriptions.disconnected();
    clearTimeout(watchdog);
    clearTimeout(leaveTimer);
    client.end(true);
    if (reason) console.info(`broker ${url}: ${reason}`);
    scheduleRetry();
  }

  /** Unsubscribe from what subscriptions.js says this session is done with (`recent`). */
  function leave(done) {
    if (over || !done.length) return;
    client.unsubscribe(done, (err) => {
      if (err && !over) console.info(`broker ${url}: unsubscribe: ${err.message}`);
    });
  }

  /** A timer for when subscriptions.js leaves `recent` (its grace over), moved when that time moves
   * (the first snapshot came). */
  function armLeave() {
    const at = subscriptions.leaveAt;
    if (over || at === leaveTimerAt) return;
    clearTimeout(leaveTimer);
    leaveTimerAt = at;
    if (at === null) return;
    leaveTimer = setTimeout(() => {
      leaveTimerAt = null;
      leave(subscriptions.due(session, Date.now()));
      armLeave();
    }, Math.max(0, at - Date.now()));
  }

  client.on("connect", () => {
    const wanted = subscriptions.connected();
    session = subscriptions.session;
    client.subscribe(wanted, { qos: 0 }, (err, granted) => {
      if (over) return;
      if (err || !granted || granted.some((g) => g.qos === 128)) {
        lost("subscription refused");
        return;
      }
      clearTimeout(watchdog);
      failover.connected(Date.now());
      // `recent` is left RECENT_GRACE_MS after its snapshot, or after the wait for one is over.
      subscriptions.subscribed(Date.now());
      armLeave();
      up();
    });
  });
  client.on("message", (topic, payload, packet) => {
    if (over) return;
    leave(subscriptions.message(topic, payload.length, Date.now()));
    armLeave();
    receive(topic, payload, Boolean(packet.retain));
  });
  client.on("close", () => lost(""));
  client.on("error", (err) => console.info(`broker ${url}: ${err.message}`));
}

function scheduleRetry() {
  const { delayMs } = failover.next(Date.now());
  retryAt = Date.now() + delayMs;
  const wasLive = $("connection").dataset.state === "live";
  showCountdown();
  if (wasLive) say("Connection lost. Reconnecting.");
  countdownTimer = setInterval(showCountdown, 500);
  retryTimer = setTimeout(connect, delayMs);
}

function up() {
  setConnection("live", "Live");
  if (everLive) {
    say("Live again.");
    stream.reconnected();
    pumpBackfill();
  }
  everLive = true;
  if (!stream.started) setTimeout(loadInitialFromHistory, INITIAL_WAIT_MS);
}

window.addEventListener("online", () => {
  if (retryTimer) connect();
});

function receive(topic, payload, retained) {
  let doc;
  try {
    doc = JSON.parse(decoder.decode(payload));
  } catch {
    return; // not ours to show
  }
  if (doc === null || typeof doc !== "object") return;
  if (topic === topics.comments) {
    if (Array.isArray(doc.events)) {
      const comments = doc.events.filter((e) => e?.type === "comment").map((e) => e.comment);
      seenComments(comments);
      enterWindow(comments);
      for (const e of doc.events) if (e?.type === "delete") reactions.leaveWindow(e.id);
    }
    enqueue(stream.onEvents(doc.events));
  } else if (topic === topics.recent) {
    if (Array.isArray(doc.comments)) {
      reactions.setWindow(doc.comments);
      seenComments(doc.comments);
    }
    enqueue(stream.onRecent(doc, { retained }));
  } else if (topic === topics.reactions) {
    onReactions(doc, retained);
    return;
  } else if (topic === topics.state) {
    gotState = true;
    showChatState(doc);
    enqueue(stream.onState(doc));
  }
  pumpBackfill();
}

// -- repairing gaps over HTTP -------------------------------------------------------------------

let backfillFailures = 0;
let backfillTimer = 0;

async function pumpBackfill() {
  if (backfillTimer) return;
  const request = stream.takeBackfill();
  if (request === null) return;
  try {
    const body = await getJSON(`${config.api.comments}?after_seq=${request.afterSeq}&limit=${HISTORY_PAGE}`);
    backfillFailures = 0;
    seenComments(body.comments);
    enterWindow(body.comments);
    enqueue(stream.onBackfill(request, body.comments, HISTORY_PAGE));
  } catch (err) {
    stream.backfillFailed(request);
    const delay = backoffDelay(backfillFailures++);
    console.info(`history: ${err.message}; again in ${delay} ms`);
    backfillTimer = setTimeout(() => {
      backfillTimer = 0;
      pumpBackfill();
    }, delay);
    return;
  }
  pumpBackfill();
}

async function loadInitialFromHistory() {
  // No retained `recent` (a video without comments yet, or a broker that lost it): read the newest
  // page of the history instead, as the snapshot would have given it.
  if (stream.started) return;
  try {
    const [video, history] = await Promise.all([
      getJSON(config.api.video),
      getJSON(`${config.api.comments}?limit=50`),
    ]);
    if (stream.started) return;
    const comments = [...history.comments].reverse();
    reactions.setWindow(comments); // what the snapshot would have been
    seenComments(comments);
    const seq = Math.max(Number(video.last_seq) || 0, ...comments.map((c) => Number(c.seq) || 0));
    enqueue(stream.onRecent({ seq, comments }));
    pumpBackfill();
  } catch (err) {
    console.info(`history: ${err.message}`);
    setTimeout(loadInitialFromHistory, backoffDelay(1));
  }
}

async function loadVideoState() {
  try {
    const video = await getJSON(config.api.video);
    if (gotState) return; // the retained state topic is newer
    showChatState(video);
    if (stream.pinSeq < 0) enqueue(stream.onState(video)); // unless a pin event came first
  } catch (err) {
    console.info(`video: ${err.message}`);
  }
}

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  return resp.json();
}

// -- the chat's state ---------------------------------------------------------------------------

let chatClosed = false;
let chatState = null;

function showChatState(state) {
  chatState = state;
  chatClosed = state.chat === "closed" || state.status === "ended";
  $("chat-closed").hidden = !chatClosed;
  showSlowMode();
  updateComposer();
}

function showSlowMode() {
  const s = chatState && Number.isSafeInteger(chatState.slow_mode_s) ? chatState.slow_mode_s : 0;
  const note = $("slow-mode");
  note.hidden = s <= 0 || chatClosed;
  const exempt = session !== null && isModerator(session.roles);
  note.textContent = `Slow mode: ${formatSeconds(s)}${exempt ? " (you are exempt)" : " between comments"}.`;
}

// -- signing in ---------------------------------------------------------------------------------

let session = readSession(); // {token, name, userId, roles}: the roles are the token's

function withClaims(saved) {
  const claims = tokenClaims(saved.token);
  return claims === null ? null : { token: saved.token, name: saved.name || claims.name, ...pick(claims) };
}

function pick({ userId, roles }) {
  return { userId, roles };
}

function readSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.token === "string" ? withClaims(saved) : null;
  } catch {
    return null;
  }
}

function saveSession(next) {
  session = next === null ? null : withClaims(next);
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: session.token, name: session.name }));
  else sessionStorage.removeItem(SESSION_KEY);
  showSignedIn();
  loadMine();
}

function showSignedIn() {
  const signedIn = session !== null;
  const moderator = signedIn && isModerator(session.roles);
  $("app").dataset.role = moderator ? "moderator" : signedIn ? "viewer" : "anonymous";
  $("mod-tools").hidden = !moderator;
  if (!moderator) panels.close();
  closeAllMenus();
  $("compose").hidden = !signedIn;
  $("sign-in").hidden = signedIn || !config.api.devToken;
  $("token-sign-in").hidden = signedIn || Boolean(config.api.devToken);
  if (signedIn) $("who-text").textContent = `Signed in as ${session.name}.`;
  showSlowMode();
  updateComposer();
}

function userIdFor(name) {
  const slug = name
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${slug || "viewer"}-${crypto.randomUUID().slice(0, 8)}`;
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("sign-in-name").value.trim();
  if (!name) {
    setStatus("Type a name to sign in.", true);
    return;
  }
  try {
    const resp = await fetch(config.api.devToken, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: userIdFor(name), name, roles: $("sign-in-moderator").checked ? ["moderator"] : [] }),
    });
    const body = await resp.json().catch(() => null);
    if (!resp.ok || !body || typeof body.token !== "string") {
      setStatus(`Could not sign in: ${body?.error?.message ?? `HTTP ${resp.status}`}`, true);
      return;
    }
    saveSession({ token: body.token, name });
    setStatus("");
    $("compose-text").focus();
  } catch {
    setStatus("Could not sign in: the server can't be reached.", true);
  }
});

$("token-sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  const name = tokenClaims(token)?.name ?? null;
  if (name === null) {
    setStatus("That does not look like a token.", true);
    return;
  }
  $("token-input").value = "";
  saveSession({ token, name });
  setStatus("");
});

$("sign-out").addEventListener("click", () => signOut(""));

function signOut(message) {
  saveSession(null);
  setStatus(message, Boolean(message));
  (config.api.devToken ? $("sign-in-name") : $("token-input")).focus();
}

// -- posting ------------------------------------------------------------------------------------

const textBox = $("compose-text");
let replyTo = null; // {id, name}
let draft = null; // {text, parentId, key}: the key is reused by every retry of this post
let sending = false;
let waitUntil = 0;
let waitTimer = 0;

function setStatus(message, isError = false) {
  const status = $("compose-status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function updateComposer() {
  const n = codePointCount(textBox.value);
  const count = $("compose-count");
  count.textContent = `${n} / ${MAX_TEXT}`;
  count.classList.toggle("over", n > MAX_TEXT);
  const left = secondsLeft(waitUntil, Date.now());
  const send = $("compose-send");
  send.disabled = sending || left > 0 || chatClosed || n === 0 || n > MAX_TEXT;
  send.textContent = left > 0 ? `Send in ${left} s` : "Send";
  textBox.disabled = chatClosed;
}

textBox.addEventListener("input", updateComposer);
textBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("compose").requestSubmit();
  }
});

$("compose").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

function startReply(item) {
  if (!needSignIn("Sign in to reply.")) return;
  replyTo = { id: item.dataset.id, name: item.querySelector(".author").textContent };
  $("replying-text").textContent = `Replying to ${replyTo.name}`;
  $("replying").hidden = false;
  textBox.focus();
}

function cancelReply() {
  replyTo = null;
  $("replying").hidden = true;
}

$("reply-cancel").addEventListener("click", () => {
  cancelReply();
  textBox.focus();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function send() {
  const text = textBox.value;
  const problem = checkDraft(text, MAX_TEXT);
  if (problem !== null || sending || session === null) {
    if (problem !== null) setStatus(problem, true);
    return;
  }
  const parentId = replyTo ? replyTo.id : null;
  if (draft === null || draft.text !== text || draft.parentId !== parentId) {
    draft = { text, parentId, key: crypto.randomUUID() };
  }
  sending = true;
  updateComposer();
  setStatus("Sending…");
  try {
    await postWithRetries(draft);
  } finally {
    sending = false;
    updateComposer();
  }
}

async function postWithRetries(post) {
  const body = JSON.stringify(post.parentId ? { text: post.text, parent_id: post.parentId } : { text: post.text });
  for (let attempt = 0; ; attempt += 1) {
    let status = 0;
    let error = null;
    let retryAfter = null;
    try {
      const resp = await fetch(config.api.comments, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${session.token}`,
          "Idempotency-Key": post.key,
        },
        body,
      });
      if (resp.status === 202) {
        posted(post);
        return;
      }
      status = resp.status;
      retryAfter = retryAfterSeconds(resp.headers.get("Retry-After"));
      error = (await resp.json().catch(() => null))?.error ?? null;
    } catch {
      status = 0; // the network, not the server
    }
    const failure = describeFailure(status, error);
    if (failure.kind === "retry" && attempt < MAX_POST_RETRIES) {
      const delay = Math.max(backoffDelay(attempt, { baseMs: 500, capMs: 8000 }), (retryAfter ?? 0) * 1000);
      setStatus(`${failure.message} Trying again in ${Math.ceil(delay / 1000)} s…`, true);
      await sleep(delay);
      if (session === null) return;
      continue;
    }
    if (failure.kind === "retry") {
      setStatus(`${failure.message} Your comment was not posted; press Send to try again.`, true);
    } else if (failure.kind === "wait") {
      startWait(retryAfter ?? 5, failure.message);
    } else if (failure.kind === "sign-in") {
      signOut(failure.message);
    } else {
      draft = null;
      setStatus(failure.message, true);
    }
    return;
  }
}

function posted(post) {
  draft = null;
  if (textBox.value === post.text) textBox.value = ""; // unless the reader wrote on meanwhile
  if (post.parentId) {
    const item = elements.get(post.parentId);
    if (replyTo && replyTo.id === post.parentId) cancelReply();
    if (item) toggleThread(item, item.querySelector(".thread-toggle"), true);
  }
  const slow = slowModeWait(chatState, session?.roles);
  if (slow > 0) {
    startWait(slow, "Sent. Slow mode is on.", false);
    return;
  }
  setStatus("Sent.");
  setTimeout(() => {
    if ($("compose-status").textContent === "Sent.") setStatus("");
  }, 3000);
}

/** Send stays disabled for `seconds` (a 429's Retry-After, or slow mode after a post), counting down. */
function startWait(seconds, message, isError = true) {
  waitUntil = extendDeadline(waitUntil > Date.now() ? waitUntil : 0, Date.now(), seconds);
  clearInterval(waitTimer);
  const tick = () => {
    const left = secondsLeft(waitUntil, Date.now());
    if (left <= 0) {
      clearInterval(waitTimer);
      setStatus("You can send again.");
    } else {
      setStatus(`${message} You can send again in ${left} s.`, isError);
    }
    updateComposer();
  };
  tick();
  waitTimer = setInterval(tick, 250);
}

// -- start ---------------------------------------------------------------------------------------

const panels = setupPanels({
  config,
  session: () => session,
  notify,
  expired: (message) => signOut(message),
});
liveButtons();
showSignedIn();
loadMine();
updateComposer();
loadVideoState();
connect();
