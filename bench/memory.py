"""Memory over a long run, from RSS samples (pure: the samples are passed in).

Each process's series is judged on its own: the RSS at the start (the first sample after the
warm-up), at the end, and the slope of a least-squares line through the second half of the
measured window, in MB per minute. The first half is left out on purpose: allocators and caches
settle during it. A process is "flat" when that slope, less what grows there by design (bench.soak
measures it: the broker's retained `recent` payloads, the bridge's recent windows), is under
FLAT_MB_PER_MIN.

Why 0.5 MB/min: at the soak's 100 comments/s, a leak of 100 bytes per comment shows as 0.6 MB/min.
The soak's own load generator is the calibration: it keeps every accepted id (~80 bytes a comment)
and shows 0.5-0.6 MB/min, while the processes that keep nothing (the coordinator, the web server's
main process) show 0.0-0.03. A slope under it over 10 minutes is still up to 0.7 GB a day, so a
deployment watches its processes' memory over days as well; the per-video bounds are shown by tests
over three times as many videos as the bounds (tests/integration/test_soak_short.py), not by this
figure (the soak's 10,000 videos fit the default bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FLAT_MB_PER_MIN = 0.5
MB = 2**20

Point = tuple[float, int]  # (time.monotonic(), RSS in bytes)


def slope_per_minute(points: Sequence[Point]) -> float | None:
    """The least-squares slope of RSS over time, in MB per minute (None with fewer than 3 points)."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (r - mean_r) for t, r in points)
    return cov / var * 60 / MB


@dataclass(frozen=True)
class MemoryTrend:
    process: str
    start_mb: float  # the first sample at or after the measured window's start
    end_mb: float  # the last sample
    peak_mb: float
    slope_mb_per_min: float | None  # over the second half of the window
    samples: int
    flat: bool | None  # None: too few samples to say

    def to_dict(self) -> dict[str, object]:
        return {"process": self.process, "start_mb": self.start_mb, "end_mb": self.end_mb, "peak_mb": self.peak_mb,
                "growth_mb": round(self.end_mb - self.start_mb, 1), "slope_mb_per_min": self.slope_mb_per_min,
                "samples": self.samples, "verdict": verdict(self.flat)}


def verdict(flat: bool | None) -> str:
    return "unknown" if flat is None else "flat" if flat else "GROWING"


def trend(process: str, points: Sequence[Point], t0: float, t1: float,
          threshold: float = FLAT_MB_PER_MIN) -> MemoryTrend | None:
    """One process's trend over the window [t0, t1] (time.monotonic()); None if it has no sample in it."""
    inside = sorted(p for p in points if t0 <= p[0] <= t1)
    if not inside:
        return None
    middle = t0 + (t1 - t0) / 2
    slope = slope_per_minute([p for p in inside if p[0] >= middle])
    return MemoryTrend(
        process=process, start_mb=round(inside[0][1] / MB, 1), end_mb=round(inside[-1][1] / MB, 1),
        peak_mb=round(max(r for _, r in inside) / MB, 1),
        slope_mb_per_min=None if slope is None else round(slope, 3), samples=len(inside),
        flat=None if slope is None else slope < threshold,
    )


def trends(series: dict[str, list[Point]], t0: float, t1: float,
           threshold: float = FLAT_MB_PER_MIN) -> list[MemoryTrend]:
    out = [trend(name, points, t0, t1, threshold) for name, points in sorted(series.items())]
    return [t for t in out if t is not None]
