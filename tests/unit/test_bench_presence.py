"""The benchmark's presence figures (bench.presence) and its viewers' announcements (bench.workers)."""

from __future__ import annotations

from collections.abc import Callable

from bench import mqtt
from bench.presence import parse_presence, presence_line, presence_summary
from bench.workers import ViewerConfig, ViewerGroup

PAGE = """# HELP livecomments_presence_announcements_total Announcements counted
# TYPE livecomments_presence_announcements_total counter
livecomments_presence_announcements_total 3000.0
livecomments_presence_cpu_seconds_total 0.012
livecomments_presence_dropped_total{reason="malformed"} 1.0
livecomments_presence_dropped_total{reason="retained"} 2.0
livecomments_presence_viewers 1000.0
livecomments_bridge_events_published_total 5.0
"""


def test_the_cost_per_announcement() -> None:
    after = parse_presence(PAGE)
    assert (after.announcements, after.cpu_seconds, after.dropped, after.viewers) == (3000.0, 0.012, 3.0, 1000.0)
    before = parse_presence("livecomments_presence_announcements_total 1000.0\n"
                            "livecomments_presence_cpu_seconds_total 0.002\n")
    doc = presence_summary(before, after, 1000)
    assert doc["announcements_counted"] == 2000 and doc["counter_us_per_announcement"] == 5.0
    assert doc["viewers_counted"] == 1000 and doc["dropped"] == 3
    assert "5.0 µs per announcement" in presence_line(doc)
    assert "note" in presence_summary(None, after, 1000)


class _Conn:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

        class _Closed:
            @staticmethod
            def done() -> bool:
                return False

        self.closed = _Closed()

    def send(self, data: bytes) -> None:
        self.sent.append(data)


def test_viewers_announce_then_every_30_s_give_or_take_5() -> None:
    group = ViewerGroup(ViewerConfig(0, 1, "mqtt://127.0.0.1:1", [], [], 0, presence="presence/videos/v1/"))
    timers: list[tuple[float, Callable[[], None]]] = []
    group.call_later = lambda delay, fn: timers.append((delay, fn))
    conn = _Conn()
    group.announce(conn, "presence/videos/v1/bench-v0-0")  # type: ignore[arg-type]
    assert conn.sent == [mqtt.publish("presence/videos/v1/bench-v0-0", b"")]
    assert len(timers) == 1 and 25 <= timers[0][0] <= 35
    timers.pop()[1]()
    assert len(conn.sent) == 2 and group.announcements == 2
