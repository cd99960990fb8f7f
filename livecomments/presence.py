"""Who is watching: the pure rules of presence (docs/contract.md, "Who is watching").

A viewer announces itself on `presence/videos/{v}/{client_id}` ({client_id}: its own MQTT client
id, which the broker checks), QoS 0, not retained, a payload of at most 64 bytes (ignored), once
after subscribing and then every 30 s ± 5 s. `viewers` is the number of distinct client ids that
announced themselves for the video in the last `window` (75 s): exact up to `exact_limit`
(10,000) ids, a HyperLogLog estimate (within 2 %) beyond.

Here, without IO: the topic and what an acceptable announcement is, the announcer's schedule,
the time buckets of the window (`Window`), the switch between the exact record and the
estimate (`settle`), and which videos a counter still has to report (`ActiveVideos`). The
counters themselves are bridge.presence_memory and bridge.presence_redis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from livecomments.validation import is_valid_id

PRESENCE_PREFIX = "presence/"  # fixed: not under the configurable live/ and ingest/ roots
PRESENCE_FILTER = f"{PRESENCE_PREFIX}videos/+/+"  # what the counting service subscribes to
ANNOUNCE_INTERVAL_S = 30.0
ANNOUNCE_JITTER_S = 5.0  # each announcement after the first comes 30 s ± this much later
MAX_PAYLOAD_BYTES = 64
WINDOW_S = 75.0
EXACT_LIMIT = 10_000
PUBLISH_EVERY_S = 5.0  # `viewers` goes out at most this often (when it changed)
BUCKETS_PER_WINDOW = 15  # the window's time buckets: 5 s each at 75 s
RESUME_EXACT_BELOW = 0.9  # an estimate under this share of exact_limit starts an exact record again


def presence_topic(video_id: str, client_id: str) -> str:
    return f"{PRESENCE_PREFIX}videos/{video_id}/{client_id}"


def is_presence_topic(topic: str) -> bool:
    """Anything under presence/ (also what is not a well-formed announcement topic)."""
    return topic.startswith(PRESENCE_PREFIX)


def parse_presence_topic(topic: str) -> tuple[str, str] | None:
    """(video id, client id) of a well-formed announcement topic, or None.

    Both levels must be ids of the contract's kind (1-64 of [A-Za-z0-9_-]): a client id that
    could not be in a topic level of its own (`/`, `+`, `#`) or is longer cannot announce."""
    head = f"{PRESENCE_PREFIX}videos/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or not is_valid_id(parts[0]) or not is_valid_id(parts[1]):
        return None
    return parts[0], parts[1]


def is_announcement(qos: int, retain: bool, payload_size: int) -> bool:
    """QoS 0, not retained, at most 64 bytes: anything else on a presence topic is dropped."""
    return qos == 0 and not retain and 0 <= payload_size <= MAX_PAYLOAD_BYTES


def may_announce(client_id: str | None, topic: str) -> bool:
    """A connection may publish on the presence topic that names its own client id, and no other."""
    parsed = parse_presence_topic(topic)
    return client_id is not None and parsed is not None and parsed[1] == client_id


def next_announcement_in(rand: Callable[[], float]) -> float:
    """Seconds until the next announcement: 30 s ± 5 s, `rand()` uniform in [0, 1)."""
    return ANNOUNCE_INTERVAL_S + (2 * rand() - 1) * ANNOUNCE_JITTER_S


@dataclass(frozen=True)
class Window:
    """The counting window (`seconds`) cut into `buckets` time buckets of `bucket_s` each.

    Bucket k holds the announcements of [k * bucket_s, (k + 1) * bucket_s). An estimate unites
    the buckets that overlap the window, (now - seconds, now]: an id counts from its announcement
    on, and stops counting between `seconds` and `seconds + bucket_s` after its last one (an exact
    record, which keeps each id's time, stops it at `seconds` exactly)."""

    seconds: float = WINDOW_S
    buckets: int = BUCKETS_PER_WINDOW

    def __post_init__(self) -> None:
        if not self.seconds > 0 or self.buckets < 1:
            raise ValueError("a presence window needs seconds > 0 and at least one bucket")

    @property
    def bucket_s(self) -> float:
        return self.seconds / self.buckets

    def bucket_of(self, t: float) -> int:
        return math.floor(t / self.bucket_s)

    def cutoff(self, now: float) -> float:
        """An announcement at or before this time no longer counts."""
        return now - self.seconds

    def live_buckets(self, now: float) -> range:
        """The buckets that overlap the window, oldest first."""
        return range(self.bucket_of(self.cutoff(now)), self.bucket_of(now) + 1)

    def first_live_bucket(self, now: float) -> int:
        return self.bucket_of(self.cutoff(now))

    @property
    def keep_s(self) -> float:
        """How long a bucket's data must be kept after its start: the window and two buckets."""
        return self.seconds + 2 * self.bucket_s


NEVER = -math.inf  # exact_since of a video whose exact record was never dropped: complete


@dataclass(frozen=True)
class Settled:
    """What a count evaluation decided for one video."""

    count: int
    exact: bool  # the count is the exact record's
    exact_since: float | None  # the exact record holds every announcement since then; None: not kept
    dropped_exact: bool = False  # the record just grew past the limit: drop it (keep the estimate)
    resumed_exact: bool = False  # the estimate fell under the limit: start a new record now

    def needs_estimate(self, window: Window, now: float) -> bool:
        """Whether the estimate must still be fed: no exact record, or one younger than the window."""
        return self.exact_since is None or self.exact_since > window.cutoff(now)


def settle(exact_since: float | None, exact_count: int, estimate: Callable[[], int], now: float,
           window: Window, exact_limit: int = EXACT_LIMIT) -> Settled:
    """The count of one video, and the switch between the exact record and the estimate.

    `exact_since`: since when the exact record holds every announcement (NEVER: always; None: no
    record, the audience was over the limit); `exact_count`: the ids in it within the window;
    `estimate()`: the HyperLogLog estimate over the window's buckets (asked only when needed).

    - A record that grows past `exact_limit` is dropped: from then on the count is the estimate.
    - Without a record, an estimate under RESUME_EXACT_BELOW x exact_limit starts one now; it is
      the count once it covers a whole window (until then, the estimate is).
    - A record that covers the window and is within the limit is the count: exact."""
    if exact_since is not None and exact_count > exact_limit:
        return Settled(estimate(), False, None, dropped_exact=True)
    if exact_since is None:
        approx = estimate()
        if approx < RESUME_EXACT_BELOW * exact_limit:
            return Settled(approx, False, now, resumed_exact=True)
        return Settled(approx, False, None)
    if exact_since <= window.cutoff(now):
        return Settled(exact_count, True, exact_since)
    return Settled(estimate(), False, exact_since)


class ActiveVideos:
    """The videos a counter has to report: those announced within the window, and each once more
    (with its count, then 0) after its last announcement left the window, so a 0 is written."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self._last: dict[str, float] = {}

    def seen(self, video_id: str, now: float) -> None:
        self._last[video_id] = now

    def due(self, now: float) -> list[str]:
        """The videos to count now; those whose last announcement is older than the window and a
        bucket are returned one last time and forgotten."""
        gone = now - self.window.seconds - self.window.bucket_s
        videos = list(self._last)
        for video_id in [v for v, t in self._last.items() if t < gone]:
            del self._last[video_id]
        return videos

    def __len__(self) -> int:
        return len(self._last)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._last
