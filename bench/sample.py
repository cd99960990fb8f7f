"""Micro-benchmark of the sampled feed's cost on the bridge's hot path: µs per comment of
`bridge.sample_feed.SampleFeeds.batch` (the rule, reading each event's ts, encoding and handing
the sample message to the bus), for a video at a low rate (every comment kept, one message per
comment) and at a high rate (batches of 200 comments, 5 a second kept).

Run: ``.venv/bin/python -m bench.sample`` (``--comments N``, ``--repeat R`` best of R).
The events are encoded as the bridge encodes them; the bus takes each message and does nothing.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import orjson

from bridge.sample_feed import SampleFeeds
from livecomments.topics import Topics
from livecomments.wire import comment_event

NOW_MS = 1_764_000_000_000


@dataclass(frozen=True)
class _Taken:
    rc: int = 0
    mid: int = 0


_TAKEN = _Taken()


def _bus(_topic: str, _payload: bytes) -> _Taken:
    return _TAKEN


def events(count: int, per_s: float) -> list[tuple[int, bytes]]:
    """`count` comment events of one video, `per_s` a second, encoded as bridge.apply encodes them."""
    out = []
    for seq in range(1, count + 1):
        ts = NOW_MS + int(seq * 1000 / per_s)
        view = {"id": f"01JDQ3{seq:020d}", "video_id": "bench", "seq": seq, "parent_id": None,
                "user": {"id": f"u{seq % 300}", "name": f"Viewer {seq % 300}"},
                "text": f"what a great stream, loving it! {seq}", "ts": ts, "pos_ms": ts - NOW_MS,
                "reply_count": 0, "reactions": {}}
        out.append((seq, orjson.dumps(comment_event(seq, view))))
    return out


def per_comment_us(stream: list[tuple[int, bytes]], batch: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        feeds = SampleFeeds(5, Topics(), lambda: NOW_MS + 10**9)
        started = time.perf_counter()
        for at in range(0, len(stream), batch):
            feeds.batch("bench", stream[at:at + batch], 0.0, _bus)
        best = min(best, time.perf_counter() - started)
    return best / len(stream) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    low = per_comment_us(events(args.comments, per_s=2), batch=1, repeat=args.repeat)
    high = per_comment_us(events(args.comments, per_s=4000), batch=200, repeat=args.repeat)
    print(f"low rate (2/s, 1 comment a batch, all kept):     {low:.2f} µs per comment")
    print(f"high rate (4000/s, 200 a batch, 5/s kept):       {high:.2f} µs per comment")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
