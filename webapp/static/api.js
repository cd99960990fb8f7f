// Calls to the HTTP API with the reader's token. Never throws: the outcome says what happened.

/** {ok, status, body, error, retryAfter}: status 0 means the network, not the server. */
export async function call(url, { method = "GET", token = null, body = undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, {
      method,
      headers,
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, body: null, error: null, retryAfter: null };
  }
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  return {
    ok: resp.ok,
    status: resp.status,
    body: data,
    error: data && typeof data.error === "object" ? data.error : null,
    retryAfter: resp.headers.get("Retry-After"),
  };
}
