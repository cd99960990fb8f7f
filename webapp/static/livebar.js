// Live reactions: the buttons that send one, the video's total, and the floating hearts (of this
// reader's presses at once, of everyone's as the `reactions` topic's totals grow). The counting
// is reactions.js's LiveTotals. And who is watching: the video's viewer count (`showViewers`).

import { button, el } from "./dom.js";
import { EMOJI, KINDS, LABELS, MAX_FLOATING, formatCount } from "./reactions.js";
import { BROWSER_TIMERS } from "./timers.js";

export const FLOAT_MS = 3000;
export const FLOAT_STAGGER_MS = 150;
export const LIVE_ORDER = Object.freeze(["love", ...KINDS.filter((k) => k !== "love")]);

export class LiveBar {
  /** `live`: a LiveTotals; `reducedMotion`: a MediaQueryList ({matches}); `failed(what, result)`:
   * a request failed (CommentActions.failed). */
  constructor({ doc, config, http, session, signIn, live, reducedMotion, failed, timers = BROWSER_TIMERS, random = Math.random }) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
    this.floaters = this.$("floaters");
    this.url = config.api.liveReactions;
    this.http = http;
    this.session = session;
    this.signIn = signIn;
    this.live = live;
    this.reducedMotion = reducedMotion;
    this.failed = failed;
    this.timers = timers;
    this.random = random;
  }

  bind() {
    const group = this.$("live-buttons");
    for (const kind of LIVE_ORDER) {
      const label = `Send a live reaction: ${LABELS[kind]}`;
      const b = button(this.doc, `live-button${kind === "love" ? " primary" : ""}`, undefined, label);
      b.dataset.kind = kind;
      const emoji = el(this.doc, "span", "emoji", EMOJI[kind]);
      emoji.setAttribute("aria-hidden", "true");
      b.append(emoji);
      group.append(b);
    }
    group.addEventListener("click", (event) => {
      const b = event.target.closest("button");
      if (b) this.send(b.dataset.kind);
    });
  }

  showTotal() {
    this.$("live-total").textContent = formatCount(this.live.total);
  }

  /** Who is watching: the `state` payload's (or the API's) `viewers`, shown once there is one. */
  showViewers(state) {
    const n = state?.viewers;
    if (!Number.isInteger(n) || n < 0) return;
    const line = this.$("viewers-line");
    if (!line) return;
    this.$("viewers").textContent = formatCount(n);
    line.title = `${n.toLocaleString("en")} watching now` + (Number.isInteger(state.peak_viewers)
      ? `, ${state.peak_viewers.toLocaleString("en")} at most so far` : "");
    line.hidden = false;
  }

  float(kind) {
    if (this.reducedMotion.matches || this.floaters.childElementCount >= MAX_FLOATING) return;
    const heart = el(this.doc, "span", `floater floater-${kind}`, EMOJI[kind]);
    // CSSOM, not a style attribute: allowed by the CSP
    heart.style.setProperty("--drift", `${Math.round(this.random() * 48 - 24)}px`);
    heart.style.setProperty("--start", `${Math.round(this.random() * 32)}px`);
    const remove = () => heart.remove();
    heart.addEventListener("animationend", remove);
    this.timers.setTimeout(remove, FLOAT_MS + 500); // animations do not run in a hidden tab
    this.floaters.append(heart);
  }

  async send(kind) {
    if (!this.signIn.need("Sign in to react.")) return;
    this.live.click(kind);
    this.float(kind);
    this.showTotal();
    const result = await this.http.request(this.url, { method: "POST", token: this.session.token, body: { kind } });
    if (!result.ok) {
      this.live.failed(kind);
      this.showTotal();
      this.failed("react", result);
    }
  }

  /** The `reactions` topic's video totals: hearts for what grew (room permitting). */
  onSnapshot(video, retained) {
    const room = MAX_FLOATING - this.floaters.childElementCount;
    const kinds = this.live.onSnapshot(video, { retained, room });
    kinds.forEach((kind, i) => this.timers.setTimeout(() => this.float(kind), i * FLOAT_STAGGER_MS));
    this.showTotal();
  }
}
