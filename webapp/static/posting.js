// Posting rules shared by the page and its tests: character count, what an error status
// means to the reader, when to retry. No DOM and no network here.

export const MAX_TEXT_CODE_POINTS = 500;
export const MAX_POST_RETRIES = 5;

/** The text as the server will store it: NFC-normalised and trimmed. */
export function cleanText(text) {
  return text.normalize("NFC").trim();
}

/** Length in code points (what the 500 limit counts), not UTF-16 units. */
export function codePointCount(text) {
  let n = 0;
  for (const _ of cleanText(text)) n += 1;
  return n;
}

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(header, now = Date.now()) {
  if (header === null || header === undefined || header === "") return null;
  const text = String(header).trim();
  if (/^\d+$/.test(text)) return Number.parseInt(text, 10);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** What a failed post means: {kind, message}. kind is "retry" (try again with the same
 * Idempotency-Key), "wait" (429: count down, then let the reader send again), "sign-in"
 * (401) or "stop". `error` is the body's {code, message} when there is one. */
export function describeFailure(status, error = null) {
  const detail = error && typeof error.message === "string" && error.message ? error.message : "";
  const code = error && typeof error.code === "string" ? error.code : "";
  switch (status) {
    case 0:
      return { kind: "retry", message: "Can't reach the server." };
    case 400:
      return { kind: "stop", message: `That comment can't be posted${detail ? `: ${detail}` : "."}` };
    case 401:
      return { kind: "sign-in", message: "Your sign-in has expired or is not valid. Please sign in again." };
    case 403:
      if (code === "chat_closed") return { kind: "stop", message: "The chat of this video is closed." };
      return {
        kind: "stop",
        message: `You can't post in this chat${detail ? `: ${detail}` : " (you may be banned)."}`,
      };
    case 404:
      return { kind: "stop", message: "This video, or the comment you are replying to, no longer exists." };
    case 413:
      return { kind: "stop", message: "Your comment is too large to send." };
    case 422:
      return { kind: "stop", message: `Your comment was not accepted${detail ? `: ${detail}` : "."}` };
    case 429:
      return { kind: "wait", message: "You are posting too fast." };
    case 502:
    case 503:
    case 504:
      return { kind: "retry", message: "The server could not record your comment." };
    default:
      return { kind: "stop", message: `Something went wrong (HTTP ${status}). Please try again.` };
  }
}

/** A check before sending: null when the text can be sent, else why not. */
export function checkDraft(text, max = MAX_TEXT_CODE_POINTS) {
  const n = codePointCount(text);
  if (n === 0) return "Write something first.";
  if (n > max) return `Your comment is ${n} characters long; the limit is ${max}.`;
  return null;
}
