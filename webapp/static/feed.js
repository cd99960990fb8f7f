// What the page hears and reads about the video's comments, handed to the stream (stream.js
// decides what to render and what to fetch): the MQTT messages of the four topics, the HTTP
// history that repairs gaps (retried with backoff), the first page of history when no `recent`
// came, the video's state until the `state` topic speaks, and the replies of an opened thread.
// It also keeps the reaction counts' window up to date (reactions.js), as the comments pass by,
// and counts them (volume.js): when the chat is faster than the page can show, the comment events
// come from the sampled feed `sample` instead of `comments` (no gap repair then), until it calms.

import { backoffDelay } from "./backoff.js";
import { SNAPSHOT_WAIT_MS } from "./subscriptions.js";
import { BROWSER_TIMERS } from "./timers.js";
import { CHECK_EVERY_MS, FULL, SAMPLE, VolumeRule } from "./volume.js";

export const INITIAL_WAIT_MS = SNAPSHOT_WAIT_MS; // for the retained `recent`, before reading the history instead
export const HISTORY_PAGE = 200; // the API's largest `limit`
export const FIRST_PAGE = 50; // what a `recent` snapshot holds

export class Feed {
  /** `stream`: a Stream; `reactions`: a CommentReactions. Hooks: `render(ops)` (stream.js's
   * operations), `reactionsChanged(id)` (a comment's counts to show again), `chatState(state)`
   * (the `state` payload, or the video as the API gives it) and `liveReactions(video, retained)`
   * (the `reactions` payload's totals of the video), and `follow(mode)` (volume.js's FULL or SAMPLE:
   * take the comment events from that topic now; call followed(mode) once it is subscribed). */
  constructor({ config, http, stream, reactions, hooks, timers = BROWSER_TIMERS, log = console }) {
    this.api = config.api;
    this.topics = config.topics;
    this.http = http;
    this.stream = stream;
    this.reactions = reactions;
    this.hooks = hooks;
    this.timers = timers;
    this.log = log;
    this.decoder = new TextDecoder();
    this.gotState = false; // the retained `state` came: newer than the API's answer
    this.backfillFailures = 0;
    this.backfillTimer = 0;
    // the sampled feed, when the page config names it
    this.volume = this.topics.sample ? new VolumeRule() : null;
    this.volumeTimer = 0; // while on the sample: quiet seconds count too
  }

  // -- MQTT -----------------------------------------------------------------------------------

  /** Subscribed (`again`: after a lost connection): backfill what was missed meanwhile, and seed
   * from the history if no `recent` comes in time. */
  live(again) {
    if (again) {
      this.stream.reconnected();
      this.pumpBackfill();
    }
    if (!this.stream.started) this.timers.setTimeout(() => this.loadInitialFromHistory(), INITIAL_WAIT_MS);
  }

  /** A message of one of the video's topics (`payload`: its bytes). */
  receive(topic, payload, retained) {
    let doc;
    try {
      doc = JSON.parse(this.decoder.decode(payload));
    } catch {
      return; // not ours to show
    }
    if (doc === null || typeof doc !== "object") return;
    const sampled = topic === this.topics.sample && Boolean(this.topics.sample);
    if (topic === this.topics.comments || sampled) {
      if (Array.isArray(doc.events)) {
        const comments = doc.events.filter((e) => e?.type === "comment").map((e) => e.comment);
        this.seenComments(comments);
        this.enterWindow(comments);
        for (const e of doc.events) if (e?.type === "delete") this.reactions.leaveWindow(e.id);
      }
      this.hooks.render(this.stream.onEvents(doc.events));
      this.countVolume(sampled, doc);
    } else if (topic === this.topics.recent) {
      if (Array.isArray(doc.comments)) {
        this.reactions.setWindow(doc.comments);
        this.seenComments(doc.comments);
      }
      this.hooks.render(this.stream.onRecent(doc, { retained }));
    } else if (topic === this.topics.reactions) {
      for (const id of this.reactions.onSnapshot(doc.comments)) this.hooks.reactionsChanged(id);
      this.hooks.liveReactions(doc.video, retained);
      return;
    } else if (topic === this.topics.state) {
      this.gotState = true;
      this.hooks.chatState(doc);
      this.hooks.render(this.stream.onState(doc));
    }
    this.pumpBackfill();
  }

  // -- how much to receive (volume.js) -------------------------------------------------------

  /** A message of `comments` or (`sampled`) of `sample`: its comments (and `skipped`) count for the
   * rule, when it is the topic followed now. */
  countVolume(sampled, doc) {
    if (this.volume === null || sampled !== (this.volume.mode === SAMPLE)) return;
    const events = Array.isArray(doc.events) ? doc.events : [];
    const skipped = Number.isSafeInteger(doc.skipped) && doc.skipped > 0 ? doc.skipped : 0;
    const comments = events.filter((e) => e?.type === "comment").length + (sampled ? skipped : 0);
    this.switchIf(this.volume.observe(this.timers.now(), comments));
  }

  /** Follow what the rule says now (after a message, or every CHECK_EVERY_MS while sampled). */
  switchIf(mode) {
    const sampled = mode === SAMPLE;
    if (sampled === this.stream.sampled) return;
    if (sampled) {
      this.stream.setSampled(true); // from now on, seq jumps are comments left out
      this.volumeTimer = this.timers.setInterval(() => this.switchIf(this.volume.decide(this.timers.now())), CHECK_EVERY_MS);
    } else {
      this.stream.setSampled(false); // gaps are repaired again
      this.timers.clearInterval(this.volumeTimer);
      this.volumeTimer = 0;
    }
    this.hooks.follow?.(mode);
  }

  /** The topic of `mode` is subscribed: back on `comments`, what came since the last seq seen is
   * fetched from the history, as after a reconnect. */
  followed(mode) {
    if (mode !== FULL || this.stream.sampled) return;
    this.stream.reconnected();
    this.pumpBackfill();
  }

  // -- the reaction counts' window ------------------------------------------------------------

  /** Comments that came after the snapshot are in the recent window now (the `reactions` topic
   * speaks for them), since the page no longer hears `recent` itself. */
  enterWindow(comments) {
    if (!Array.isArray(comments)) return;
    for (const c of comments) if (c && typeof c === "object") this.reactions.enterWindow(c.id, c.seq);
  }

  /** Counts carried by comment payloads (events, snapshots, history) count until the topic speaks. */
  seenComments(comments) {
    if (!Array.isArray(comments)) return;
    for (const c of comments) {
      if (c && typeof c === "object" && this.reactions.seen(c.id, c.reactions)) this.hooks.reactionsChanged(c.id);
    }
  }

  // -- HTTP -----------------------------------------------------------------------------------

  /** Fetch what the stream says is missing, one page after the other; a failure is retried
   * with backoff. */
  async pumpBackfill() {
    if (this.backfillTimer) return;
    const request = this.stream.takeBackfill();
    if (request === null) return;
    let body;
    try {
      body = await this.http.getJSON(`${this.api.comments}?after_seq=${request.afterSeq}&limit=${HISTORY_PAGE}`);
    } catch (err) {
      this.stream.backfillFailed(request);
      const delay = backoffDelay(this.backfillFailures++);
      this.log.info(`history: ${err.message}; again in ${delay} ms`);
      this.backfillTimer = this.timers.setTimeout(() => {
        this.backfillTimer = 0;
        this.pumpBackfill();
      }, delay);
      return;
    }
    this.backfillFailures = 0;
    this.seenComments(body.comments);
    this.enterWindow(body.comments);
    this.hooks.render(this.stream.onBackfill(request, body.comments, HISTORY_PAGE));
    this.pumpBackfill();
  }

  /** No retained `recent` (a video without comments yet, or a broker that lost it): read the
   * newest page of the history instead, as the snapshot would have given it. */
  async loadInitialFromHistory() {
    if (this.stream.started) return;
    let video;
    let history;
    try {
      [video, history] = await Promise.all([
        this.http.getJSON(this.api.video),
        this.http.getJSON(`${this.api.comments}?limit=${FIRST_PAGE}`),
      ]);
    } catch (err) {
      this.log.info(`history: ${err.message}`);
      this.timers.setTimeout(() => this.loadInitialFromHistory(), backoffDelay(1));
      return;
    }
    if (this.stream.started) return;
    const comments = Array.isArray(history.comments) ? [...history.comments].reverse() : [];
    this.reactions.setWindow(comments); // what the snapshot would have been
    this.seenComments(comments);
    const seq = Math.max(Number(video.last_seq) || 0, ...comments.map((c) => Number(c?.seq) || 0));
    this.hooks.render(this.stream.onRecent({ seq, comments }));
    this.pumpBackfill();
  }

  /** The chat's state as the API has it, until the retained `state` topic speaks. */
  async loadVideoState() {
    let video;
    try {
      video = await this.http.getJSON(this.api.video);
    } catch (err) {
      this.log.info(`video: ${err.message}`);
      return;
    }
    if (this.gotState) return; // the retained state topic is newer
    this.hooks.chatState(video);
    if (this.stream.pinSeq < 0) this.hooks.render(this.stream.onState(video)); // unless a pin event came first
  }

  /** Whether opening this thread needs its replies fetched first. */
  needsReplies(parentId) {
    return this.stream.needsReplies(parentId);
  }

  /** The replies of a thread the reader opened. Throws when they cannot be had (the caller says so). */
  async loadReplies(parentId) {
    const body = await this.http.getJSON(
      `${this.api.comments}?parent_id=${encodeURIComponent(parentId)}&limit=${HISTORY_PAGE}`,
    );
    this.seenComments(body.comments);
    this.hooks.render(this.stream.onReplies(parentId, body.comments));
  }
}
