"""Who is watching, in the benchmark: what counting the viewers' announcements costs the bridge.

The `normal` scenario's viewers announce themselves (bench.workers.ViewerGroup: once subscribed,
then every 30 s ± 5 s, as the page does); the bridge's /metrics says how many announcements its
presence counter took and how much CPU the counting thread spent in the counter
(`livecomments_presence_cpu_seconds_total`: adding them and counting, bridge.presence). The
difference over the run, per announcement, is the cost reported.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("bench")

ANNOUNCEMENTS = "livecomments_presence_announcements_total"
CPU_SECONDS = "livecomments_presence_cpu_seconds_total"
VIEWERS = "livecomments_presence_viewers"
DROPPED = "livecomments_presence_dropped_total"


@dataclass(frozen=True)
class PresenceReading:
    announcements: float
    cpu_seconds: float
    viewers: float
    dropped: float


def parse_presence(text: str) -> PresenceReading:
    """The presence counter's figures in a Prometheus text page (0 for what is not there)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        base = name.split("{", 1)[0]
        if base in (ANNOUNCEMENTS, CPU_SECONDS, VIEWERS, DROPPED):
            values[base] = values.get(base, 0.0) + float(value)
    return PresenceReading(values.get(ANNOUNCEMENTS, 0.0), values.get(CPU_SECONDS, 0.0), values.get(VIEWERS, 0.0),
                           values.get(DROPPED, 0.0))


def read_presence(url: str | None) -> PresenceReading | None:
    if url is None:
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
            return parse_presence(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        log.warning("could not scrape %s", url)
        return None


def presence_summary(before: PresenceReading | None, after: PresenceReading | None, viewers: int) -> dict[str, Any]:
    """What the run's announcements cost the counter: CPU per announcement (µs), and the count reached."""
    out: dict[str, Any] = {"viewers": viewers}
    if before is None or after is None:
        out["note"] = "no bridge /metrics to read the presence counter from"
        return out
    counted = after.announcements - before.announcements
    cpu = after.cpu_seconds - before.cpu_seconds
    out.update(
        announcements_counted=int(counted),
        dropped=int(after.dropped - before.dropped),
        counter_cpu_seconds=round(cpu, 4),
        counter_us_per_announcement=round(cpu / counted * 1e6, 2) if counted else None,
        viewers_counted=int(after.viewers),
    )
    return out


def presence_line(doc: dict[str, Any]) -> str:
    """One line for the report's table."""
    if "note" in doc:
        return f"who is watching: {doc['note']}"
    per = doc.get("counter_us_per_announcement")
    return (f"who is watching: {doc['viewers']} viewers announcing; the bridge counted {doc['viewers_counted']} "
            f"from {doc['announcements_counted']} announcements ({doc['dropped']} dropped), counter CPU "
            f"{doc['counter_cpu_seconds']} s = {per if per is not None else '-'} µs per announcement")


def counter_cost(counter: Any, viewers: int, videos: int, rounds: int = 3) -> dict[str, float]:
    """CPU (this thread's) per announcement of `viewers` ids spread over `videos` videos, announcing
    `rounds` times 30 s apart in batches of 1,000 (as the counting thread hands them over), and per
    count of every video (every 5 s)."""
    import time

    ids = [(f"v{i % videos}", f"viewer-{i:08x}") for i in range(viewers)]
    now, add_cpu, count_cpu, counts = 1_800_000_000.0, 0.0, 0.0, 0
    for _round in range(rounds):
        for start in range(0, viewers, 1000):
            t = time.thread_time()
            counter.add(ids[start:start + 1000], now)
            add_cpu += time.thread_time() - t
        now += 30.0
        t = time.thread_time()
        counter.counts(now)
        count_cpu += time.thread_time() - t
        counts += 1
    return {"us_per_announcement": round(add_cpu / (viewers * rounds) * 1e6, 2),
            "ms_per_count_of_every_video": round(count_cpu / counts * 1e3, 1)}


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.presence [--viewers N] [--videos M] [--redis URL]`: the counters' own cost."""
    import argparse
    import json

    from bridge.presence_memory import MemoryPresenceCounter
    from bridge.presence_redis import RedisPresenceCounter
    from livecomments.presence import Window

    parser = argparse.ArgumentParser(prog="python -m bench.presence")
    parser.add_argument("--viewers", type=int, default=100_000)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--redis", default=None, help="also a Redis counter on this URL (keys lc:presence:bench-*)")
    args = parser.parse_args(argv)
    out = {"viewers": args.viewers, "videos": args.videos,
           "in_process": counter_cost(MemoryPresenceCounter(Window()), args.viewers, args.videos)}
    if args.redis:
        from infra import redis_client

        counter = RedisPresenceCounter(redis_client.connect(args.redis, 2.0), Window(), key_prefix="lc:presence:bench-")
        out["redis"] = counter_cost(counter, args.viewers, args.videos)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
