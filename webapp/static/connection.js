// The page's MQTT connection: MQTT.js with its own retry off, our backoff with jitter and
// failover over the broker URLs (backoff.js), the topics of each session (subscriptions.js:
// `recent` only for a short grace), and a watchdog for a subscription that never comes. It says
// what happens through hooks; the DOM and the stream are other modules' business.
//
// Once subscribed, each connection announces itself on `topics.presence` + its client id (QoS 0,
// not retained, empty: docs/contract.md, "Who is watching"), then every 30 s ± 5 s while it lasts;
// the count comes back in the video's `state` (`viewers`).

import { Failover, secondsLeft } from "./backoff.js";
import { Subscriptions } from "./subscriptions.js";
import { BROWSER_TIMERS } from "./timers.js";

export const SUBSCRIBE_TIMEOUT_MS = 15000;
export const ANNOUNCE_EVERY_MS = 30000;
export const ANNOUNCE_JITTER_MS = 5000;
const COUNTDOWN_EVERY_MS = 500;
const GRANT_REFUSED = 128;

/** The MQTT.js options of every attempt. */
export function connectOptions(clientId) {
  return {
    protocolVersion: 4,
    reconnectPeriod: 0, // no built-in retry: every second, in lockstep, is not acceptable at scale
    connectTimeout: 10000,
    keepalive: 60,
    // Plain timers: MQTT.js's default starts a Worker from a blob: URL, which this page's CSP
    // (no blob: workers, Trusted Types) does not allow.
    timerVariant: "native",
    clean: true,
    resubscribe: false,
    clientId,
  };
}

/** When the next announcement is due: 30 s ± 5 s (`random()` in [0, 1)). */
export function nextAnnouncementIn(random = Math.random) {
  return ANNOUNCE_EVERY_MS + (2 * random() - 1) * ANNOUNCE_JITTER_MS;
}

/** A client id of the page's kind: "viewer-" and 16 hex digits. */
export function viewerClientId(uuid = crypto.randomUUID()) {
  return `viewer-${uuid.replaceAll("-", "").slice(0, 16)}`;
}

export class Connection {
  /** `mqtt`: MQTT.js (its `connect`); `urls`: the brokers, in order; `topics`: the video's.
   * Hooks: `status(state, text)` (state: connecting, reconnecting or live), `say(message)` (for
   * screen readers), `live(again)` (subscribed; `again` after a lost connection) and
   * `message(topic, payload, retained)`. */
  constructor({ mqtt, urls, topics, hooks, timers = BROWSER_TIMERS, clientId = viewerClientId, log = console,
    random = Math.random }) {
    this.mqtt = mqtt;
    this.failover = new Failover(urls);
    this.subscriptions = new Subscriptions(topics);
    this.hooks = hooks;
    this.timers = timers;
    this.clientId = clientId;
    this.log = log;
    this.random = random;
    this.presence = topics.presence ?? null; // "presence/videos/{v}/": + the client id
    this.state = null; // the last status given
    this.everLive = false;
    this.retryAt = 0;
    this.retryTimer = 0;
    this.countdownTimer = 0;
    this.session = null; // the session up now: {subscribe(topics, done), unsubscribe(topics)}
  }

  /** Take the comment events from `topic` (the video's `comments` or `sample`); `done()` once the
   * broker granted it (at once when no session is up: the next one subscribes to it). */
  follow(topic, done = () => {}) {
    this.subscriptions.follow(topic, false);
    if (this.session === null) done();
    else this.catchUp(done);
  }

  catchUp(done = () => {}) {
    const { subscribe, unsubscribe } = this.subscriptions.catchUp();
    if (!subscribe.length) {
      done();
      return;
    }
    const session = this.session;
    session.subscribe(subscribe, () => {
      session.unsubscribe(unsubscribe);
      done();
    });
  }

  setStatus(state, text) {
    this.state = state;
    this.hooks.status(state, text);
  }

  /** Connect now (the first time, or when a retry is due). */
  connect() {
    const t = this.timers;
    t.clearTimeout(this.retryTimer);
    t.clearInterval(this.countdownTimer);
    this.retryTimer = 0;
    if (this.everLive) this.setStatus("reconnecting", "Reconnecting…");
    else this.setStatus("connecting", "Connecting…");
    this.attempt(this.failover.url);
  }

  /** The network is back (the window's `online`): do not wait for the retry that is due. */
  retryNow() {
    if (this.retryTimer) this.connect();
  }

  attempt(url) {
    const t = this.timers;
    const subscriptions = this.subscriptions;
    const id = this.clientId();
    const client = this.mqtt.connect(url, connectOptions(id));
    let over = false;
    let announceTimer = 0;
    let session = 0; // this connection's session in subscriptions.js
    let leaveTimer = 0;
    let leaveTimerAt = null;
    const lost = (reason) => {
      if (over) return;
      over = true;
      if (this.session === live) this.session = null;
      subscriptions.disconnected();
      t.clearTimeout(watchdog);
      t.clearTimeout(leaveTimer);
      t.clearTimeout(announceTimer);
      client.end(true);
      if (reason) this.log.info(`broker ${url}: ${reason}`);
      this.scheduleRetry();
    };
    const watchdog = t.setTimeout(() => lost("no subscription in time"), SUBSCRIBE_TIMEOUT_MS);

    /** This connection watches the video: say so now, and again in 30 s ± 5 s. */
    const announce = () => {
      if (over || this.presence === null) return;
      client.publish(this.presence + id, "", { qos: 0, retain: false });
      announceTimer = t.setTimeout(announce, nextAnnouncementIn(this.random));
    };

    /** Unsubscribe from what subscriptions.js says this session is done with (`recent`). */
    const leave = (done) => {
      if (over || !done.length) return;
      client.unsubscribe(done, (err) => {
        if (err && !over) this.log.info(`broker ${url}: unsubscribe: ${err.message}`);
      });
    };

    /** A timer for when subscriptions.js leaves `recent` (its grace over), moved when that time
     * moves (the first snapshot came). */
    const armLeave = () => {
      const at = subscriptions.leaveAt;
      if (over || at === leaveTimerAt) return;
      t.clearTimeout(leaveTimer);
      leaveTimerAt = at;
      if (at === null) return;
      leaveTimer = t.setTimeout(() => {
        leaveTimerAt = null;
        leave(subscriptions.due(session, t.now()));
        armLeave();
      }, Math.max(0, at - t.now()));
    };

    /** follow()'s part in this session: a refused grant loses the connection (as at first). */
    const live = {
      subscribe: (topics, granted) => {
        client.subscribe(topics, { qos: 0 }, (err, grants) => {
          if (over) return;
          if (err || !grants || grants.some((g) => g.qos === GRANT_REFUSED)) lost("subscription refused");
          else granted();
        });
      },
      unsubscribe: leave,
    };

    client.on("connect", () => {
      const wanted = subscriptions.connected();
      session = subscriptions.session;
      client.subscribe(wanted, { qos: 0 }, (err, granted) => {
        if (over) return;
        if (err || !granted || granted.some((g) => g.qos === GRANT_REFUSED)) {
          lost("subscription refused");
          return;
        }
        t.clearTimeout(watchdog);
        this.failover.connected(t.now());
        // `recent` is left RECENT_GRACE_MS after its snapshot, or after the wait for one is over.
        subscriptions.subscribed(t.now());
        armLeave();
        this.session = live;
        this.catchUp(); // follow() was told something else meanwhile
        this.up();
        announce();
      });
    });
    client.on("message", (topic, payload, packet) => {
      if (over) return;
      leave(subscriptions.message(topic, payload.length, t.now()));
      armLeave();
      this.hooks.message(topic, payload, Boolean(packet?.retain));
    });
    client.on("close", () => lost(""));
    client.on("error", (err) => this.log.info(`broker ${url}: ${err.message}`));
  }

  up() {
    this.setStatus("live", "Live");
    const again = this.everLive;
    if (again) this.hooks.say("Live again.");
    this.everLive = true;
    this.hooks.live(again);
  }

  showCountdown() {
    const left = secondsLeft(this.retryAt, this.timers.now());
    this.setStatus("reconnecting", left > 0 ? `Reconnecting in ${left} s…` : "Reconnecting…");
  }

  scheduleRetry() {
    const t = this.timers;
    const { delayMs } = this.failover.next(t.now());
    this.retryAt = t.now() + delayMs;
    const wasLive = this.state === "live";
    this.showCountdown();
    if (wasLive) this.hooks.say("Connection lost. Reconnecting.");
    this.countdownTimer = t.setInterval(() => this.showCountdown(), COUNTDOWN_EVERY_MS);
    this.retryTimer = t.setTimeout(() => this.connect(), delayMs);
  }
}
