"""Counting viewers in this process (the embedded default): a `PresenceCounter`.

Per video: the exact record, a dict client id -> time of its last announcement, while the
audience is within the limit; and, while the estimate is needed (the record was dropped, or
restarted less than a window ago), one HyperLogLog sketch per time bucket (Apache DataSketches'
`hll_sketch`, lg_k 15: 32 KiB dense, a relative standard error of about 0.6 %, far less while
sparse). A video within the limit has no sketch at all; when its record grows past the limit,
the record's ids go into the buckets of their last announcement and the record is dropped.

Not thread-safe: one thread (bridge.presence's counting thread) adds and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from datasketches import hll_sketch, hll_union, tgt_hll_type

from bridge.presence_counter import Announcement
from livecomments.presence import EXACT_LIMIT, NEVER, ActiveVideos, Window, settle

LG_K = 15
_TYPE = tgt_hll_type.HLL_8  # a byte per register: the fastest to update


@dataclass
class _Audience:
    exact: dict[str, float] | None = field(default_factory=dict)  # None: over the limit, not kept
    exact_since: float | None = NEVER
    sketches: dict[int, hll_sketch] | None = None  # bucket -> sketch, while the estimate is fed


class MemoryPresenceCounter:
    def __init__(self, window: Window, exact_limit: int = EXACT_LIMIT, lg_k: int = LG_K) -> None:
        self.window = window
        self.exact_limit = exact_limit
        self.lg_k = lg_k
        self._active = ActiveVideos(window)
        self._audiences: dict[str, _Audience] = {}

    def add(self, announcements: Sequence[Announcement], now: float) -> None:
        bucket = self.window.bucket_of(now)
        audiences = self._audiences
        for video_id, client_id in announcements:
            audience = audiences.get(video_id)
            if audience is None:
                audience = audiences[video_id] = _Audience()
            if audience.exact is not None:
                audience.exact[client_id] = now
            if audience.sketches is not None:
                self._sketch(audience.sketches, bucket).update(client_id)
        for video_id in {v for v, _c in announcements}:
            self._active.seen(video_id, now)

    def counts(self, now: float) -> dict[str, int]:
        window, out = self.window, {}
        for video_id in self._active.due(now):
            audience = self._audiences.get(video_id)
            if audience is None:
                out[video_id] = 0
                continue
            self._prune(audience, now)
            exact = audience.exact
            settled = settle(audience.exact_since, len(exact) if exact is not None else 0,
                             partial(self._estimate, audience), now, window, self.exact_limit)
            if settled.dropped_exact:
                self._drop_exact(audience)
            elif settled.resumed_exact:
                audience.exact, audience.exact_since = {}, now
            if not settled.needs_estimate(window, now):
                audience.sketches = None
            out[video_id] = settled.count
            if video_id not in self._active:  # its last announcement left the window: forgotten
                del self._audiences[video_id]
        return out

    def __len__(self) -> int:
        """The videos held."""
        return len(self._audiences)

    # -- pieces ---------------------------------------------------------------------

    def _sketch(self, sketches: dict[int, hll_sketch], bucket: int) -> hll_sketch:
        sketch = sketches.get(bucket)
        if sketch is None:
            sketch = sketches[bucket] = hll_sketch(self.lg_k, _TYPE)
        return sketch

    def _prune(self, audience: _Audience, now: float) -> None:
        cutoff = self.window.cutoff(now)
        if audience.exact is not None and audience.exact:
            audience.exact = {c: t for c, t in audience.exact.items() if t > cutoff}
        if audience.sketches:
            first = self.window.first_live_bucket(now)
            for bucket in [b for b in audience.sketches if b < first]:
                del audience.sketches[bucket]

    def _estimate(self, audience: _Audience) -> int:
        if audience.sketches is None:  # never fed: the record is all there is
            return len(audience.exact or ())
        union = hll_union(self.lg_k)
        for sketch in audience.sketches.values():
            union.update(sketch)
        return round(float(union.get_estimate()))

    def _drop_exact(self, audience: _Audience) -> None:
        """Past the limit: the record's ids go into the buckets of their last announcement."""
        if audience.sketches is None:
            audience.sketches = {}
            for client_id, t in (audience.exact or {}).items():
                self._sketch(audience.sketches, self.window.bucket_of(t)).update(client_id)
        audience.exact, audience.exact_since = None, None
