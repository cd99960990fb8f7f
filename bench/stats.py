"""What a benchmark computes from what it recorded: pure functions over plain data.

Comments are tagged by the load generator: their text is `bench PHASE KEY T_SEND_NS`,
with the send time taken on the client just before the POST (CLOCK_MONOTONIC, which
every process on one Linux machine shares). A viewer needs nothing but the text to
know which comment arrived, in which phase, and how late.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

TEXT_PREFIX = "bench"


class Phase(IntEnum):
    WARMUP = 0  # posted, checked for loss, not timed
    MEASURE = 1  # the system under test
    BARE = 2  # the bare broker, one plain message per comment
    PREFILL = 3  # comments posted before a join run, so `recent` is full


def bench_text(phase: int, key: int, t_send_ns: int) -> str:
    return f"{TEXT_PREFIX} {phase} {key} {t_send_ns}"


def parse_bench_text(text: object) -> tuple[int, int, int] | None:
    """(phase, key, send time in ns) of a benchmark comment's text; None for any other text."""
    if not isinstance(text, str) or not text.startswith(TEXT_PREFIX + " "):
        return None
    parts = text.split(" ")
    if len(parts) != 4:
        return None
    try:
        phase, key, t_send = int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None
    if key < 0 or t_send < 0 or phase not in Phase._value2member_map_:
        return None
    return phase, key, t_send


def bench_texts_of_batch(doc: object) -> list[tuple[int, int, int]]:
    """The benchmark comments in one event batch (`{"video_id", "events": [...]}`), in order."""
    out: list[tuple[int, int, int]] = []
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        return out
    for event in events:
        if not isinstance(event, dict) or event.get("type") != "comment":
            continue
        comment = event.get("comment")
        parsed = parse_bench_text(comment.get("text") if isinstance(comment, dict) else None)
        if parsed is not None:
            out.append(parsed)
    return out


def key_of(worker: int, n: int, workers: int) -> int:
    """Keys interleave over the workers that post, so each comment has one small integer key."""
    if not 0 <= worker < workers or n < 0:
        raise ValueError("need 0 <= worker < workers and n >= 0")
    return n * workers + worker


# --- percentiles and latency ---------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of values sorted ascending: the smallest value with at least
    q% of the values at or below it. q in [0, 100]; 0 gives the minimum."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds."""

    count: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> LatencySummary | None:
        ordered = sorted(values_ms)
        if not ordered:
            return None
        return cls(
            count=len(ordered),
            min=ordered[0],
            p50=percentile(ordered, 50),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            mean=math.fsum(ordered) / len(ordered),
        )

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def latency_ms(t_send_ns: int, t_recv_ns: int) -> float:
    return (t_recv_ns - t_send_ns) / 1e6


# --- which comments arrived -----------------------------------------------------------------


class KeySet:
    """A set of small non-negative integer keys as a bitmap; counts repeats."""

    __slots__ = ("_bits", "_count", "duplicates")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0
        self.duplicates = 0

    def add(self, key: int) -> bool:
        """Record a key; False (and one more duplicate) if it was there already."""
        byte, bit = key >> 3, 1 << (key & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 1 + len(bits) // 2))
        if bits[byte] & bit:
            self.duplicates += 1
            return False
        bits[byte] |= bit
        self._count += 1
        return True

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or key < 0:
            return False
        byte = key >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (key & 7)))

    def __len__(self) -> int:
        return self._count

    def keys(self) -> list[int]:
        return [i * 8 + b for i, v in enumerate(self._bits) if v for b in range(8) if v >> b & 1]


@dataclass(frozen=True)
class Loss:
    """What one receiver got of what was accepted."""

    expected: int
    received: int  # expected keys that arrived
    missing: int
    unexpected: int  # keys that arrived but were never accepted (should be 0)
    duplicates: int

    @property
    def rate(self) -> float:
        return self.missing / self.expected if self.expected else 0.0


def loss_of(accepted: Iterable[int], got: KeySet) -> Loss:
    expected = set(accepted)
    received = sum(1 for k in expected if k in got)
    return Loss(
        expected=len(expected),
        received=received,
        missing=len(expected) - received,
        unexpected=len(got) - received,
        duplicates=got.duplicates,
    )


@dataclass(frozen=True)
class LossTotals:
    """Loss over many receivers: how many comment copies went missing, and where."""

    receivers: int
    expected_per_receiver: int
    missing_total: int
    receivers_missing_any: int
    worst_missing: int
    unexpected_total: int
    duplicates_total: int

    @property
    def rate(self) -> float:
        denominator = self.receivers * self.expected_per_receiver
        return self.missing_total / denominator if denominator else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


def total_loss(losses: Sequence[Loss]) -> LossTotals:
    expected = {loss.expected for loss in losses}
    if len(expected) > 1:
        raise ValueError("receivers were checked against different sets")
    return LossTotals(
        receivers=len(losses),
        expected_per_receiver=expected.pop() if expected else 0,
        missing_total=sum(loss.missing for loss in losses),
        receivers_missing_any=sum(1 for loss in losses if loss.missing),
        worst_missing=max((loss.missing for loss in losses), default=0),
        unexpected_total=sum(loss.unexpected for loss in losses),
        duplicates_total=sum(loss.duplicates for loss in losses),
    )


# --- rates ----------------------------------------------------------------------------------


def second_of(t_ns: int, origin_ns: int) -> int:
    """The whole second since origin a time falls in (negative before it)."""
    return (t_ns - origin_ns) // 1_000_000_000


def count_in(buckets: Mapping[int, int], first: int, last: int) -> int:
    """Events counted in the seconds first..last inclusive."""
    return sum(n for s, n in buckets.items() if first <= s <= last)


@dataclass(frozen=True)
class RateSummary:
    """Messages per second per receiver over a window of whole seconds."""

    receivers: int
    seconds: int
    mean_of_means: float
    max_mean: float  # the busiest receiver's average
    max_peak: int  # the most any receiver got within one second

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rate_summary(per_receiver: Sequence[Mapping[int, int]], first: int, last: int) -> RateSummary:
    """Per-receiver per-second counts -> mean and peak rates in the window first..last (seconds)."""
    if last < first:
        raise ValueError("empty window")
    seconds = last - first + 1
    means = [count_in(b, first, last) / seconds for b in per_receiver]
    peaks = [max((n for s, n in b.items() if first <= s <= last), default=0) for b in per_receiver]
    return RateSummary(
        receivers=len(per_receiver),
        seconds=seconds,
        mean_of_means=sum(means) / len(means) if means else 0.0,
        max_mean=max(means, default=0.0),
        max_peak=max(peaks, default=0),
    )


def topic_kind(topic: str) -> str | None:
    """A live topic's kind, its last part (`live/videos/{v}/comments` -> "comments"); None for any
    other topic (the benchmark's own bare-broker topics)."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["live", "videos"]:
        return None
    return parts[3]


def bytes_by_kind(per_receiver: Sequence[Mapping[str, int]]) -> dict[str, Any]:
    """Bytes by topic kind over every receiver's {topic: bytes}: the total, and per kind the bytes,
    the mean per receiver and the share of the total (topics of no kind are left out)."""
    kinds: dict[str, int] = {}
    for topics in per_receiver:
        for topic, n in topics.items():
            kind = topic_kind(topic)
            if kind is not None:
                kinds[kind] = kinds.get(kind, 0) + n
    total = sum(kinds.values())
    receivers = len(per_receiver)
    return {
        "total": total,
        "by_kind": {kind: {"bytes": n, "per_receiver": round(n / receivers, 1) if receivers else 0.0,
                           "share": round(n / total, 4) if total else 0.0}
                    for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))},
    }


def throughput(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def ratio(value: float | None, bare: float | None) -> float | None:
    """value / bare, or None when either is missing or the bare one is zero."""
    if value is None or bare is None or bare == 0:
        return None
    return value / bare


# --- CPU --------------------------------------------------------------------------------------


def cpu_percent(cpu_s_before: float, cpu_s_after: float, wall_s: float) -> float:
    """CPU time used over a wall-clock interval, in % of one core."""
    if wall_s <= 0:
        return 0.0
    return max(0.0, cpu_s_after - cpu_s_before) / wall_s * 100


def cpu_at(samples: Sequence[tuple[float, float]], t: float) -> float | None:
    """A process's cumulative CPU seconds at time t, interpolated between the (time, CPU seconds)
    samples around it (sorted by time); the nearest sample outside them; None without samples."""
    if not samples:
        return None
    if t <= samples[0][0]:
        return samples[0][1]
    for (t0, v0), (t1, v1) in zip(samples, samples[1:], strict=False):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return samples[-1][1]


def cpu_ms_per(cpu_s: float | None, count: float | None) -> float | None:
    """CPU milliseconds per unit of work (an accepted post, a comment, a delivery)."""
    if cpu_s is None or not count:
        return None
    return cpu_s * 1000 / count


# --- Prometheus histograms: a step's time from the service's own /metrics --------------------


@dataclass(frozen=True)
class Histogram:
    """One Prometheus histogram: cumulative counts per upper bound (`le`, ascending, +Inf last)."""

    buckets: tuple[tuple[float, float], ...]
    sum: float
    count: float

    def minus(self, before: Histogram | None) -> Histogram:
        """What was observed between two scrapes."""
        if before is None:
            return self
        old = dict(before.buckets)
        return Histogram(tuple((le, n - old.get(le, 0.0)) for le, n in self.buckets), self.sum - before.sum,
                         self.count - before.count)

    def quantile(self, q: float) -> float | None:
        """As PromQL's histogram_quantile: linear within the bucket holding rank q × count
        (q in 0..1); the highest finite bound if the rank falls in +Inf; None if empty."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(le):
                    return lower
                inside = cumulative - below
                return lower + (le - lower) * ((rank - below) / inside if inside > 0 else 1.0)
            lower, below = le, cumulative
        return lower


def parse_histograms(text: str) -> dict[str, Histogram]:
    """Every unlabelled histogram in a Prometheus text exposition, by name (without `_bucket`)."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            key, value = line.rsplit(" ", 1)
            number = float(value)
        except ValueError:
            continue
        if key.endswith("}") and "_bucket{" in key:
            name, labels = key[:-1].split("_bucket{", 1)
            if labels.startswith('le="') and labels.count("=") == 1:
                buckets.setdefault(name, []).append((float(labels[4:-1]), number))
        elif key.endswith("_sum"):
            sums[key[:-4]] = number
        elif key.endswith("_count"):
            counts[key[:-6]] = number
    return {name: Histogram(tuple(sorted(b)), sums.get(name, 0.0), counts.get(name, 0.0))
            for name, b in buckets.items()}
