"""The sampled feed's rule: which events of a video's stream go on `live/videos/{v}/sample`
(contract v1.1, "How much to receive"), and the sample message's bytes. Pure: no IO, no clock
of its own (the caller passes the one bound that needs a clock, `ceiling`).

The rule, for a cap of N comments a second (docs/contract.md, "How much to receive: the sampled feed",
says it for clients):

- Every event that is not a comment (`delete`, `pin`, `unpin`, any later kind) is kept.
- A comment's time is its `ts`, or the time of the comment before it in the stream (in `seq`
  order) if that is later: the stream's time never goes back, so a comment approved late or
  re-driven with an old `ts` counts as arriving now. (A `ts` beyond `ceiling`, the bridge's
  clock plus FUTURE_SLACK_MS, counts as `ceiling`: one comment from a publisher with a clock far
  ahead cannot stop the sample's time for everyone.)
- A comment at time t is kept when
  1. fewer than N kept comments have a time in (t - 1 s, t], and
  2. if a comment was left out less than 1 s before t (the stream is over the cap), at least
     1/N s has passed since the last kept comment (an even spread instead of a burst at the
     start of each second);
  otherwise it is left out, and counted.

(1) alone bounds the sample: N+1 kept comments in an interval [a, a + 1 s) would make the last of
them the N+1-th in (t - 1 s, t]. A stream with no more than N comments in any such interval never
has a comment left out, so (2) never applies and the sample is the whole stream. The decision is
made for each comment as it is published, never held back to compare it with later ones: the
sample adds no latency, and costs a few hundred nanoseconds a comment.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence

import orjson

WINDOW_MS = 1000  # "any 1-second interval"
FUTURE_SLACK_MS = 2000  # how far ahead of the bridge's clock a comment's ts may put the stream's time
FAR_PAST = -(1 << 62)

_COMMENT = b'{"type":"comment",'  # how the bridge and the web app encode a comment event (orjson, `type` first)
_EVENT = b'{"type":"'
# The comment's own `ts`: the only `"ts":` key before it is none (the keys before it are id, video_id,
# seq, parent_id, user {id, name} and text); a `"` inside a string is always escaped, so no text can fake it.
_TS = re.compile(rb',"ts":(\d+)[,}]')


class SampleRule:
    """The rule's memory for one video: the times of the last N kept comments, the stream's time,
    when a comment was last left out, and how many were left out since the last sample message."""

    __slots__ = ("_kept", "_last_skip", "cap", "clock", "skipped", "spacing_ms")

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the sample's cap is at least 1 comment a second")
        self.cap = cap
        self.spacing_ms = WINDOW_MS // cap
        self._kept: deque[int] = deque(maxlen=cap)
        self.clock = FAR_PAST  # the stream's time so far (ms)
        self._last_skip = FAR_PAST
        self.skipped = 0  # comments left out since the last sample message (the caller resets it)

    def offer(self, ts: int | None, ceiling: int | None = None) -> bool:
        """A comment with this `ts` (None: unknown, it counts as the stream's time) comes next:
        True if the sample carries it; False if it is left out (and counted in `skipped`)."""
        t = self.clock
        if ts is not None and ts > t:
            t = ts if ceiling is None or ts <= ceiling else max(ceiling, t)
            self.clock = t
        kept = self._kept
        if (len(kept) == self.cap and t - kept[0] < WINDOW_MS) or (
            t - self._last_skip < WINDOW_MS and t - kept[-1] < self.spacing_ms
        ):
            self._last_skip = t
            self.skipped += 1
            return False
        kept.append(t)
        return True


def comment_ts(payload: bytes) -> tuple[bool, int | None]:
    """(is it a comment event, its comment's ts) for one encoded event."""
    if payload.startswith(_COMMENT):
        found = _TS.search(payload)
        if found is not None:
            return True, int(found.group(1))
    elif payload.startswith(_EVENT):
        return False, None
    try:  # not as the bridge encodes events: read it the slow way
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False, None
    if not isinstance(event, dict) or event.get("type") != "comment":
        return False, None
    comment = event.get("comment")
    ts = comment.get("ts") if isinstance(comment, dict) else None
    return True, ts if isinstance(ts, int) and not isinstance(ts, bool) else None


def sample_events(rule: SampleRule, events: Iterable[tuple[int, bytes]], ceiling: int | None = None) -> list[bytes]:
    """The encoded events of one batch (seq order) that the sample carries; those left out are counted
    in `rule.skipped`."""
    out: list[bytes] = []
    offer = rule.offer
    for _seq, payload in events:
        is_comment, ts = comment_ts(payload)
        if not is_comment or offer(ts, ceiling):
            out.append(payload)
    return out


def encode_sample(video_id: str, payloads: Sequence[bytes], skipped: int) -> bytes:
    """One message on `live/videos/{v}/sample`: an event batch (events already encoded) and `skipped`."""
    return (b'{"video_id":' + orjson.dumps(video_id) + b',"events":[' + b",".join(payloads)
            + b'],"skipped":' + str(skipped).encode() + b"}")
