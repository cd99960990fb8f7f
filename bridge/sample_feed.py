"""The sampled feed `live/videos/{v}/sample` on its way out (contract v1.1, "How much to receive").

The bridge hands every event batch it has just published on `comments` to `SampleFeeds.batch`,
which publishes the sample's message for it: the same events but the comments the rule
(livecomments.sample) leaves out, and `"skipped"`, how many were left out since the video's
previous sample message. A batch whose every event was left out sends nothing: its count waits
for the next message, and `tick` (every bridge round) sends it alone, with no events, once no
sample message went for WAITING_S. Nothing is held back to wait for later comments: a sample
message goes in the same round as its `comments` message.

Per video this holds the rule's state (N times and three numbers), and the sample messages the bus
did not take (its queue was full; sent first next time, at most HELD_MAX); a video without events
for IDLE_S and nothing waiting is dropped, so the table holds the videos active lately (at most
VIDEOS_MAX: past it the least recently active one goes, and starts afresh if it comes back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.apply import Event
from bridge.bus import QUEUED, Published
from livecomments.sample import FUTURE_SLACK_MS, SampleRule, encode_sample, sample_events
from livecomments.topics import Topics

log = logging.getLogger("livecomments.bridge")

WAITING_S = 1.0  # a count of left-out comments goes out on its own once no sample message went for this long
IDLE_S = 10.0  # a video's sampler is dropped after this long without events, if nothing of it waits
TICK_S = 0.25  # how often tick() looks at the videos
HELD_MAX = 64  # sample messages of one video waiting for room in the bus's queue, at most
VIDEOS_MAX = 10_000  # samplers held at most (the bridge passes bridge_videos_held): past it the least recent goes

Publish = Callable[[str, bytes], Published]


class _Feed:
    __slots__ = ("held", "last_event", "last_message", "rule")

    def __init__(self, cap: int, now: float) -> None:
        self.rule = SampleRule(cap)
        self.last_event = now
        self.last_message = now
        self.held: list[bytes] = []  # not taken by the bus yet, oldest first


class SampleFeeds:
    def __init__(self, cap: int, topics: Topics, wall_ms: Callable[[], int], max_videos: int = VIDEOS_MAX) -> None:
        self.cap = cap
        self.max_videos = max_videos
        self._topics = topics
        self._wall_ms = wall_ms
        self._feeds: dict[str, _Feed] = {}  # the most recently active last
        self._ticked = float("-inf")

    def __len__(self) -> int:
        """How many videos' samplers are held."""
        return len(self._feeds)

    def batch(self, video_id: str, events: list[Event], now: float, publish: Publish) -> None:
        """The video's events just went out on `comments`, in seq order: send the sample's share."""
        feeds = self._feeds
        feed = feeds.pop(video_id, None)
        if feed is None:
            feed = _Feed(self.cap, now)
            if len(feeds) >= self.max_videos:
                del feeds[next(iter(feeds))]
        feeds[video_id] = feed
        feed.last_event = now
        rule = feed.rule
        kept = sample_events(rule, events, self._wall_ms() + FUTURE_SLACK_MS)
        if kept:
            feed.held.append(encode_sample(video_id, kept, rule.skipped))
            rule.skipped = 0
        if feed.held:
            self._send(video_id, feed, now, publish)

    def tick(self, now: float, publish: Publish | None) -> None:
        """Every round (publish: None while not connected, then nothing goes): counts that waited
        WAITING_S go out, held messages are tried again, idle videos are dropped (every TICK_S)."""
        if publish is None or now - self._ticked < TICK_S:
            return
        self._ticked = now
        idle = []
        for video_id, feed in self._feeds.items():
            rule = feed.rule
            if rule.skipped and now - feed.last_message >= WAITING_S:
                feed.held.append(encode_sample(video_id, (), rule.skipped))
                rule.skipped = 0
            if feed.held:
                self._send(video_id, feed, now, publish)
            elif not rule.skipped and now - feed.last_event >= IDLE_S:
                idle.append(video_id)
        for video_id in idle:
            del self._feeds[video_id]

    def _send(self, video_id: str, feed: _Feed, now: float, publish: Publish) -> None:
        topic = self._topics.sample(video_id)
        held = feed.held
        sent = 0
        for payload in held:
            info = publish(topic, payload)
            if info.rc not in QUEUED:
                log.warning("the bus did not take the sample for %s (%s); will retry", video_id, info.rc)
                break
            sent += 1
        if sent:
            del held[:sent]
            feed.last_message = now
        if len(held) > HELD_MAX:  # the bus has refused for a long while: the oldest go (their events too)
            log.error("video %s: dropping %d sample messages the bus did not take", video_id, len(held) - HELD_MAX)
            del held[:-HELD_MAX]
