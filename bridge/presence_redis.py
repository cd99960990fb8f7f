"""Counting viewers in Redis (LIVECOMMENTS_REDIS_URL set): a `PresenceCounter` every bridge
process shares.

Keys, per video v (`{p}` = "lc:presence:"), each expiring a window and two buckets after its
last write, so an idle video leaves nothing behind:

- `{p}{v}:x`: the exact record, a sorted set client id -> time of its last announcement (ms);
  ZADD on each announcement while it is kept, pruned of what left the window at each count;
- `{p}{v}:h{s}:{bucket}`: HyperLogLog (PFADD) of the bucket's client ids, s = 0..SKETCHES-1,
  each over the id salted with s: two independent sketches whose estimates are averaged, as
  Redis's own (p = 14, 0.81 % standard error) alone would leave 2 % only 2.5 standard errors
  away (0.57 % for the average). Always fed: small ones stay in Redis's sparse encoding;
- `{p}{v}:t`: where the exact record stands: absent (complete), "off" (over the limit, not
  kept), or the time (ms) a new record started.

Every command of one `add` or `counts` goes in one pipeline (one round trip, no transaction),
on infra.redis_client's short timeouts; a Redis error is logged and the batch is lost (the
announcements come again within 30 s), never raised into the counting thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

from bridge.presence_counter import Announcement
from infra import redis_client
from livecomments.presence import EXACT_LIMIT, NEVER, ActiveVideos, Window, settle

log = logging.getLogger("livecomments.bridge.presence")

KEY_PREFIX = "lc:presence:"
SKETCHES = 2
_OFF = b"off"


class RedisPresenceCounter:
    def __init__(self, client: Any, window: Window, exact_limit: int = EXACT_LIMIT,
                 key_prefix: str = KEY_PREFIX) -> None:
        self._redis = client
        self.window = window
        self.exact_limit = exact_limit
        self._prefix = key_prefix
        self._active = ActiveVideos(window)
        self._kept: dict[str, bool] = {}  # whether the exact record is kept, as the last count found
        self._expiring: set[str] = set()  # videos whose keys of the current bucket have their TTL already
        self._bucket: int | None = None
        self.errors = 0

    @classmethod
    def from_url(cls, url: str, window: Window, exact_limit: int = EXACT_LIMIT) -> RedisPresenceCounter:
        return cls(redis_client.connect(url), window, exact_limit)

    def add(self, announcements: Sequence[Announcement], now: float) -> None:
        if not announcements:
            return
        by_video: dict[str, set[str]] = defaultdict(set)
        for video_id, client_id in announcements:
            by_video[video_id].add(client_id)
        bucket, now_ms, keep_ms = self.window.bucket_of(now), int(now * 1000), self._keep_ms
        if bucket != self._bucket:
            self._bucket, self._expiring = bucket, set()
        pipe = self._redis.pipeline(transaction=False)
        for video_id, ids in by_video.items():
            self._active.seen(video_id, now)
            first = video_id not in self._expiring  # a bucket's keys get their TTL once (PFADD keeps it)
            for s in range(SKETCHES):
                key = self._sketch_key(video_id, s, bucket)
                pipe.pfadd(key, *(f"{s}:{c}" for c in ids))
                if first:
                    pipe.pexpire(key, keep_ms)
            if self._kept.get(video_id, True):
                exact = self._key(video_id, "x")
                pipe.zadd(exact, dict.fromkeys(ids, now_ms))
                if first:
                    pipe.pexpire(exact, keep_ms)
            self._expiring.add(video_id)
        if self._execute(pipe, "add") is None:
            self._expiring = set()  # TTLs perhaps not set: again next time

    def counts(self, now: float) -> dict[str, int]:
        videos = self._active.due(now)
        if not videos:
            return {}
        window, keep_ms = self.window, self._keep_ms
        cutoff_ms = int(window.cutoff(now) * 1000)
        pipe = self._redis.pipeline(transaction=False)
        for video_id in videos:
            exact = self._key(video_id, "x")
            pipe.zremrangebyscore(exact, "-inf", cutoff_ms)
            pipe.zcard(exact)
            pipe.get(self._key(video_id, "t"))
            pipe.pexpire(exact, keep_ms)  # the record's TTL follows its last count (every 5 s)
        replies = self._execute(pipe, "count")
        if replies is None:
            return {}
        states = {v: (int(replies[4 * i + 1]), replies[4 * i + 2]) for i, v in enumerate(videos)}
        estimates = self._estimates(states, now)
        if estimates is None:
            return {}
        out: dict[str, int] = {}
        pipe = self._redis.pipeline(transaction=False)
        for video_id, (exact_count, tier) in states.items():
            since = _since(tier)
            estimate = estimates.get(video_id, exact_count)
            settled = settle(since, exact_count, partial(int, estimate), now, window, self.exact_limit)
            tier_key, exact_key = self._key(video_id, "t"), self._key(video_id, "x")
            if settled.exact_since is None:  # over the limit: no record (another process may have fed one)
                pipe.set(tier_key, _OFF, px=keep_ms)
                pipe.delete(exact_key)
            elif settled.resumed_exact:
                pipe.set(tier_key, str(int(now * 1000)), px=keep_ms)
            elif settled.exact and tier is not None:  # the new record covers the window: complete
                pipe.delete(tier_key)
            elif tier is not None:
                pipe.pexpire(tier_key, keep_ms)
            self._kept[video_id] = settled.exact_since is not None
            out[video_id] = settled.count
            if video_id not in self._active:
                self._kept.pop(video_id, None)
        self._execute(pipe, "settle")
        return out

    # -- pieces ---------------------------------------------------------------------

    @property
    def _keep_ms(self) -> int:
        return max(1, int(self.window.keep_s * 1000))

    def _key(self, video_id: str, kind: str) -> str:
        return f"{self._prefix}{video_id}:{kind}"

    def _sketch_key(self, video_id: str, salt: int, bucket: int) -> str:
        return f"{self._prefix}{video_id}:h{salt}:{bucket}"

    def _estimates(self, states: dict[str, tuple[int, bytes | None]], now: float) -> dict[str, int] | None:
        """The estimate (the average of the sketches' PFCOUNT over the window's buckets) of each
        video whose count may need it: no complete record, or one over the limit."""
        cutoff_ms = int(self.window.cutoff(now) * 1000)
        wanted = [v for v, (n, tier) in states.items()
                  if n > self.exact_limit or (since := _since(tier)) is None or since * 1000 > cutoff_ms]
        if not wanted:
            return {}
        buckets = self.window.live_buckets(now)
        pipe = self._redis.pipeline(transaction=False)
        for video_id in wanted:
            for s in range(SKETCHES):
                pipe.pfcount(*(self._sketch_key(video_id, s, b) for b in buckets))
        replies = self._execute(pipe, "estimate")
        if replies is None:
            return None
        return {v: round(sum(int(x) for x in replies[SKETCHES * i:SKETCHES * (i + 1)]) / SKETCHES)
                for i, v in enumerate(wanted)}

    def _execute(self, pipe: Any, what: str) -> list[Any] | None:
        import redis

        try:
            return list(pipe.execute())
        except redis.RedisError as exc:
            self.errors += 1
            log.warning("presence: Redis failed the %s (%s); this round is lost", what, exc)
            return None


def _since(tier: bytes | None) -> float | None:
    """exact_since from the tier key: absent: NEVER; "off": None; else its time (s)."""
    if tier is None:
        return NEVER
    if tier == _OFF:
        return None
    return int(tier) / 1000
