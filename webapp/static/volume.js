// When the page follows the sampled feed (`live/videos/{v}/sample`) instead of the full stream
// (`comments`), as plain data: the comments counted per second of the page's clock, and a rule
// with hysteresis. No MQTT and no DOM here (feed.js counts, connection.js switches, viewer.js says so).
//
// What the page can show: stream.js keeps DEFAULT_MAX_COMMENTS (500) on screen and commentlist.js
// renders once per animation frame. At more than 20 comments a second a comment is gone from the
// list in under 25 s and the text scrolls faster than anyone reads; every one of them still costs a
// DOM node, its reactions and its layout. So:
// - to the sample when more than SAMPLE_OVER_PER_S comments came in each of SAMPLE_AFTER_S seconds
//   running (the current second counts once it is over too: it can only grow);
// - back to `comments` when the full stream (the sample's comments plus its `skipped`) has been at
//   or under CALM_PER_S a second for CALM_AFTER_S seconds running. Half the rate that switches to
//   the sample, and ten times as long: a chat at the edge does not flip back and forth. Once the
//   full stream is at or under the sample's own cap, `skipped` is 0: the sample is the whole stream.

export const SAMPLE_OVER_PER_S = 20;
export const SAMPLE_AFTER_S = 3;
export const CALM_PER_S = 10;
export const CALM_AFTER_S = 10;
export const CHECK_EVERY_MS = 1000; // while on the sample: quiet seconds switch back too

// In words: the note over the list while sampled (a polite live region), and the announcement back.
export const SAMPLE_NOTE = "This chat is very busy: showing a sample of the comments.";
export const FULL_AGAIN = "The chat is calmer: showing every comment again.";

export const FULL = "comments";
export const SAMPLE = "sample";

export class VolumeRule {
  /** Thresholds as above (tests may pass others). */
  constructor({
    overPerS = SAMPLE_OVER_PER_S,
    afterS = SAMPLE_AFTER_S,
    calmPerS = CALM_PER_S,
    calmAfterS = CALM_AFTER_S,
  } = {}) {
    this.overPerS = overPerS;
    this.afterS = afterS;
    this.calmPerS = calmPerS;
    this.calmAfterS = calmAfterS;
    this.mode = FULL;
    this.counts = new Map(); // second (of the clock given) -> comments of the full stream in it
    this.since = null; // the first second counted in this mode (a second before it says nothing)
  }

  /** `comments` comments of the full stream came at `now` (ms): the sample's kept comments plus
   * its `skipped`, or the comments of a `comments` message. Returns the mode to follow now. */
  observe(now, comments) {
    const second = Math.floor(now / 1000);
    if (this.since === null) this.since = second;
    if (comments > 0) this.counts.set(second, (this.counts.get(second) ?? 0) + comments);
    return this.decide(now);
  }

  /** The mode to follow at `now` (ms), switching when the rule says so. */
  decide(now) {
    const second = Math.floor(now / 1000);
    if (this.since === null) this.since = second;
    for (const s of this.counts.keys()) if (s <= second - Math.max(this.afterS, this.calmAfterS) - 1) this.counts.delete(s);
    const count = (s) => this.counts.get(s) ?? 0;
    if (this.mode === FULL) {
      // the last afterS seconds, the current one included, each over the rate
      const first = second - this.afterS + 1;
      if (first < this.since) return this.mode;
      for (let s = first; s <= second; s += 1) if (count(s) <= this.overPerS) return this.mode;
      this.switchTo(SAMPLE, second);
    } else {
      // the last calmAfterS whole seconds, and the current one so far, each calm
      const first = second - this.calmAfterS;
      if (first < this.since) return this.mode;
      for (let s = first; s <= second; s += 1) if (count(s) > this.calmPerS) return this.mode;
      this.switchTo(FULL, second);
    }
    return this.mode;
  }

  switchTo(mode, second) {
    this.mode = mode;
    this.counts.clear();
    this.since = second + 1; // the second of the switch holds both feeds' comments
  }
}
