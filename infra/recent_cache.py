"""The recent-comments cache in Redis: a copy of each video's `recent` window that history
reads hit first. A view of the database, never the truth: the bridge rewrites it whenever it
publishes `recent`, the web app drops it when its own writes change the window, and a
flushed Redis simply means reads go to the database until the next rewrite."""

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

    @classmethod
    def from_url(cls, url: str | None) -> RecentCache | None:
        if not url:
            return None
        from infra import redis_client

        return cls(redis_client.connect(url))

    def put(self, video_id: str, seq: int, comments: Sequence[dict[str, Any]], complete: bool) -> None:
        """`complete`: the window holds every approved comment of the video (it has fewer than N)."""
        doc = {"seq": seq, "complete": complete, "comments": list(comments)}
        try:
            self._client.set(self._prefix + video_id, orjson.dumps(doc), ex=TTL_S)
        except Exception as exc:  # noqa: BLE001 - a cache miss later is fine; never fail the caller
            log.warning("recent cache write failed for %s: %s", video_id, exc)

    def get(self, video_id: str) -> dict[str, Any] | None:
        try:
            raw = self._client.get(self._prefix + video_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("recent cache read failed for %s: %s", video_id, exc)
            return None
        return None if raw is None else dict(orjson.loads(raw))

    def drop(self, video_id: str) -> None:
        try:
            self._client.delete(self._prefix + video_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("recent cache drop failed for %s: %s", video_id, exc)
