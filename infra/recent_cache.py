"""The recent-comments cache in Redis: a copy of each video's `recent` window that history
reads hit first. A view of the database, never the truth: the bridge rewrites it whenever it
publishes `recent`, the web app drops it when its own writes change the window, and a
flushed Redis simply means reads go to the database until the next rewrite.

Redis down or frozen never fails the caller: a read that fails is a miss, a write or a drop
that fails is logged and skipped. A failed write may leave the copy it meant to replace (a
frozen Redis may even apply it late), so that video's copy is deleted at this cache's next call
that reaches Redis: after an outage no read serves a window older than the database's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

log = logging.getLogger("livecomments.recent_cache")

TTL_S = 3600


class RecentCache:
    def __init__(self, client: Any, prefix: str = "livecomments:recent:") -> None:
        self._client = client
        self._prefix = prefix
        self._unsure: set[str] = set()  # keys whose last write or drop failed: deleted when Redis is back

    @classmethod
    def from_url(cls, url: str | None) -> RecentCache | None:
        if not url:
            return None
        from infra import redis_client

        return cls(redis_client.connect(url))

    def put(self, video_id: str, seq: int, comments: Sequence[dict[str, Any]], complete: bool) -> None:
        """`complete`: the window holds every approved comment of the video (it has fewer than N)."""
        doc = {"seq": seq, "complete": complete, "comments": list(comments)}
        key = self._prefix + video_id
        try:
            self._forget_unsure()
            self._client.set(key, orjson.dumps(doc), ex=TTL_S)
            self._unsure.discard(key)
        except Exception as exc:  # noqa: BLE001 - a cache miss later is fine; never fail the caller
            self._unsure.add(key)
            log.warning("recent cache write failed for %s: %s", video_id, exc)

    def get(self, video_id: str) -> dict[str, Any] | None:
        try:
            self._forget_unsure()
            raw = self._client.get(self._prefix + video_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("recent cache read failed for %s: %s", video_id, exc)
            return None
        return None if raw is None else dict(orjson.loads(raw))

    def drop(self, video_id: str) -> None:
        key = self._prefix + video_id
        try:
            self._forget_unsure()
            self._client.delete(key)
            self._unsure.discard(key)
        except Exception as exc:  # noqa: BLE001
            self._unsure.add(key)
            log.warning("recent cache drop failed for %s: %s", video_id, exc)

    def _forget_unsure(self) -> None:
        """Delete the copies a failed write may have left (raises while Redis is still away)."""
        if self._unsure:
            unsure = list(self._unsure)
            self._client.delete(*unsure)
            self._unsure.difference_update(unsure)
