// The page's only way to make an HTTP request: JSON in and out, the reader's token, a timeout,
// and the contract's error body ({"error": {"code", "message"}}) read out. Nothing at import time:
// the entry makes one with createHttp() and hands it to whoever needs the network.

export const DEFAULT_TIMEOUT_MS = 10000;

/** The body's `error` object ({code, message}) when it has one, else null. */
export function errorOf(body) {
  return body !== null && typeof body === "object" && body.error !== null && typeof body.error === "object"
    ? body.error
    : null;
}

/** A request that did not succeed, thrown by getJSON: `result` is request()'s outcome. */
export class HttpError extends Error {
  constructor(url, result) {
    const why = result.status === 0 ? "the server can't be reached" : `HTTP ${result.status}`;
    super(`${url}: ${why}`);
    this.name = "HttpError";
    this.result = result;
  }
}

/** `fetch`: the transport (the window's, or a test's); `timeoutMs`: the default of every request. */
export function createHttp({ fetch = (...args) => globalThis.fetch(...args), timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  /** Never throws. Returns {ok, status, body, error, retryAfter}: status 0 means the network (or
   * the timeout), not the server; body is the parsed JSON or null; retryAfter the header or null. */
  async function request(url, { method = "GET", token = null, body = undefined, headers = {}, timeout = timeoutMs } = {}) {
    const all = { Accept: "application/json", ...headers };
    if (token) all.Authorization = `Bearer ${token}`;
    if (body !== undefined) all["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    try {
      const resp = await fetch(url, {
        method,
        headers: all,
        cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      const data = resp.status === 204 ? null : await resp.json().catch(() => null);
      return {
        ok: resp.ok,
        status: resp.status,
        body: data,
        error: errorOf(data),
        retryAfter: resp.headers.get("Retry-After"),
      };
    } catch {
      return { ok: false, status: 0, body: null, error: null, retryAfter: null };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The JSON body of a successful GET; throws an HttpError otherwise (or when it is not JSON). */
  async function getJSON(url, options = {}) {
    const result = await request(url, options);
    if (!result.ok || result.body === null) throw new HttpError(url, result);
    return result.body;
  }

  return { request, getJSON };
}
