"""Memory over a long run, from RSS samples (pure: the samples are passed in).

Each process's series is judged on its own: the RSS at the start (the first sample after the
warm-up), at the end, and the slope of a least-squares line through the second half of the
measured window, in MB per minute. The first half is left out on purpose: caches that are
bounded by design (the bridge's per-video tables, the web app's rules cache, SQLite's page
cache) fill during it. A process is "flat" when that slope is under FLAT_MB_PER_MIN.

Why 0.5 MB/min: it is about what a real leak of per-video or per-comment state would show in a
10-minute run at the soak's load (100 comments/s over 10,000 videos): a kilobyte kept per
comment is 6 MB/min, and 300 bytes kept per video first seen (the bridge's old unbounded
tables, with ~1,000 new videos a minute in the second half) is 0.3 MB/min; below it is the noise of
CPython's allocator and the kernel's accounting in this window (a few MB up or down). A slope
over it is a finding to chase, not proof of a leak; one under it over 10 minutes is at most
0.7 GB a day, so a deployment still watches the process's memory (docs/operations.md).
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
