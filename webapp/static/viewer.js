// The viewer page: MQTT over WebSocket straight to the broker (MQTT.js), the DOM, and posting
// over HTTP. What to render and what to fetch is decided by stream.js; when to reconnect by
// backoff.js; what a failed post means by posting.js. User text only ever goes in textContent.

import mqtt from "./vendor/mqtt.esm.js";
import { Failover, backoffDelay, secondsLeft } from "./backoff.js";
import { MAX_POST_RETRIES, checkDraft, codePointCount, describeFailure, retryAfterSeconds } from "./posting.js";
import { Stream } from "./stream.js";

const config = JSON.parse(document.getElementById("viewer-config").textContent);
const $ = (id) => document.getElementById(id);

const INITIAL_WAIT_MS = 1500; // for the retained `recent`, before reading the history instead
const SUBSCRIBE_TIMEOUT_MS = 15000;
const HISTORY_PAGE = 200;
const AT_BOTTOM_PX = 48;
const ANNOUNCE_EVERY_MS = 4000;
const FLUSH_FALLBACK_MS = 1000; // requestAnimationFrame does not run in a hidden tab
const SESSION_KEY = "livecomments.session";
const MAX_TEXT = config.maxTextCodePoints;

const stream = new Stream();

// -- rendering: one requestAnimationFrame per batch of operations --------------------------------

const scroller = $("stream-scroll");
const list = $("stream");
const elements = new Map(); // comment or reply id -> <li>
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

function commentElement(comment, count) {
  const item = el("li", "comment");
  item.dataset.id = comment.id;
  item.dataset.seq = String(comment.seq);
  item.append(metaLine(comment), el("p", "text", comment.text));
  const actions = el("div", "actions");
  const reply = el("button", "reply-button", "Reply");
  reply.type = "button";
  reply.setAttribute("aria-label", `Reply to ${comment.user.name}`);
  const toggle = el("button", "thread-toggle");
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  const thread = el("ol", "replies");
  thread.id = `replies-${comment.id}`;
  thread.hidden = true;
  thread.setAttribute("aria-label", `Replies to ${comment.user.name}`);
  toggle.setAttribute("aria-controls", thread.id);
  actions.append(reply, toggle);
  item.append(actions, thread);
  elements.set(comment.id, item);
  setReplyCount(item, count);
  return item;
}

function replyElement(reply) {
  const item = el("li", "reply");
  item.dataset.id = reply.id;
  item.append(metaLine(reply), el("p", "text", reply.text));
  elements.set(reply.id, item);
  return item;
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

// -- threads ------------------------------------------------------------------------------------

list.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  const item = button?.closest(".comment");
  if (!button || !item) return;
  if (button.classList.contains("thread-toggle")) toggleThread(item, button);
  else if (button.classList.contains("reply-button")) startReply(item);
});

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
  const watchdog = setTimeout(() => lost("no subscription in time"), SUBSCRIBE_TIMEOUT_MS);

  function lost(reason) {
    if (over) return;
    over = true;
    clearTimeout(watchdog);
    client.end(true);
    if (reason) console.info(`broker ${url}: ${reason}`);
    scheduleRetry();
  }

  client.on("connect", () => {
    client.subscribe([topics.comments, topics.recent, topics.state], { qos: 0 }, (err, granted) => {
      if (over) return;
      if (err || !granted || granted.some((g) => g.qos === 128)) {
        lost("subscription refused");
        return;
      }
      clearTimeout(watchdog);
      failover.connected(Date.now());
      up();
    });
  });
  client.on("message", (topic, payload, packet) => {
    if (!over) receive(topic, payload, Boolean(packet.retain));
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
    enqueue(stream.onEvents(doc.events));
  } else if (topic === topics.recent) {
    enqueue(stream.onRecent(doc, { retained }));
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

function showChatState(state) {
  chatClosed = state.chat === "closed" || state.status === "ended";
  $("chat-closed").hidden = !chatClosed;
  updateComposer();
}

// -- signing in ---------------------------------------------------------------------------------

let session = readSession();

function readSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function saveSession(next) {
  session = next;
  if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION_KEY);
  showSignedIn();
}

function showSignedIn() {
  const signedIn = session !== null;
  $("compose").hidden = !signedIn;
  $("sign-in").hidden = signedIn || !config.api.devToken;
  $("token-sign-in").hidden = signedIn || Boolean(config.api.devToken);
  if (signedIn) $("who-text").textContent = `Signed in as ${session.name}.`;
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
      body: JSON.stringify({ user_id: userIdFor(name), name }),
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

function nameInToken(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims.name === "string" && claims.name ? claims.name : String(claims.sub);
  } catch {
    return null;
  }
}

$("token-sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  const name = nameInToken(token);
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
  const waiting = waitUntil > Date.now();
  $("compose-send").disabled = sending || waiting || chatClosed || n === 0 || n > MAX_TEXT;
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
  if (session === null) {
    setStatus("Sign in to reply.", true);
    (config.api.devToken ? $("sign-in-name") : $("token-input")).focus();
    return;
  }
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
  setStatus("Sent.");
  setTimeout(() => {
    if ($("compose-status").textContent === "Sent.") setStatus("");
  }, 3000);
}

function startWait(seconds, message) {
  waitUntil = Date.now() + seconds * 1000;
  clearInterval(waitTimer);
  const tick = () => {
    const left = secondsLeft(waitUntil, Date.now());
    if (left <= 0) {
      clearInterval(waitTimer);
      setStatus("You can send again.");
    } else {
      setStatus(`${message} You can send again in ${left} s.`, true);
    }
    updateComposer();
  };
  tick();
  waitTimer = setInterval(tick, 250);
}

// -- start ---------------------------------------------------------------------------------------

showSignedIn();
updateComposer();
loadVideoState();
connect();
