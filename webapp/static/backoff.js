// Reconnection timing, without timers or sockets: exponential backoff with jitter, and
// failover over a list of broker URLs. MQTT.js's own retry (every second, in lockstep for
// every viewer of a restarted broker) is switched off; connection.js asks this module instead.

export const BASE_MS = 1000;
export const CAP_MS = 30000;
export const STABLE_MS = 5000;

/** Delay before retry number `attempt` (0, 1, 2…): "equal jitter", uniformly drawn from
 * [ceiling/2, ceiling] with ceiling = min(capMs, baseMs * 2^attempt). It grows, and never
 * lets a crowd of clients retry at the same instant. */
export function backoffDelay(attempt, { baseMs = BASE_MS, capMs = CAP_MS, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Whole seconds left until `deadline` (for "reconnecting in 3 s"). */
export function secondsLeft(deadline, now) {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** Which broker to try next and after how long. A connection that stayed up for stableMs
 * resets the backoff; every failure or drop moves on to the next URL of the list. */
export class Failover {
  constructor(urls, { baseMs = BASE_MS, capMs = CAP_MS, stableMs = STABLE_MS, random = Math.random } = {}) {
    if (!Array.isArray(urls) || urls.length === 0) throw new Error("at least one broker URL is needed");
    this.urls = [...urls];
    this.options = { baseMs, capMs, random };
    this.stableMs = stableMs;
    this.index = 0;
    this.failures = 0;
    this.connectedAt = null;
  }

  get url() {
    return this.urls[this.index];
  }

  connected(now) {
    this.connectedAt = now;
  }

  /** The connection attempt failed or the connection dropped: {url, delayMs, attempt}. */
  next(now) {
    if (this.connectedAt !== null && now - this.connectedAt >= this.stableMs) this.failures = 0;
    this.connectedAt = null;
    const delayMs = backoffDelay(this.failures, this.options);
    this.failures += 1;
    this.index = (this.index + 1) % this.urls.length;
    return { url: this.url, delayMs, attempt: this.failures };
  }
}
