"""When each video's next publish may go (pure: the clock is passed in).

A quiet video's events go out at once; a busy video's are gathered into one message per
EVENTS_INTERVAL_S (<= 20 messages/s per viewer). Its retained `recent` (+ ticker) and
`reactions` go at most every RETAINED_INTERVAL_S. `state` is not paced.

The bridge asks, in one publishing round (`begin()`), for each video with something to send,
and tells what it sent; the Pacer keeps the earliest moment something left for later becomes
due (`wake_at`), which bounds how long the bridge may wait for new messages.

A video's times are kept only while one of its intervals runs: every FORGET_EVERY_S, and at once
when the table passes `held` videos, the others are dropped (for them the answers are those for
a video never seen). So the table holds the videos published in the last FORGET_EVERY_S, and
past `held` only those published in the last RETAINED_INTERVAL_S."""

from __future__ import annotations

from collections.abc import Callable

EVENTS_INTERVAL_S = 0.05  # one event batch per video per 50 ms at most: <= 20 messages/s per viewer
RETAINED_INTERVAL_S = 0.25  # recent/ticker and reactions are republished at most every 250 ms
RETRY_S = 0.1  # the bus did not take a message (its queue is full): try again this soon
FORGET_EVERY_S = 10.0  # how often the times of idle videos are dropped
HELD = 10_000  # past this many videos' times, the idle ones are dropped at once

NEVER = float("-inf")
LATER = float("inf")


class _Sent:
    """When a video's event batch, `recent` and `reactions` last went."""

    __slots__ = ("events", "reactions", "recent")

    def __init__(self) -> None:
        self.events = self.recent = self.reactions = NEVER


class Pacer:
    def __init__(self, clock: Callable[[], float], events_interval: float = EVENTS_INTERVAL_S,
                 retained_interval: float = RETAINED_INTERVAL_S, held: int = HELD) -> None:
        self._clock = clock
        self.held = held
        self._forget_above = held  # more only while over `held` videos are within an interval
        self.events_interval = events_interval
        self.retained_interval = retained_interval
        self._sent: dict[str, _Sent] = {}
        self.wake_at = LATER  # the earliest moment something left for later is due
        self._forgot_at = NEVER

    def __len__(self) -> int:
        """How many videos' times are held."""
        return len(self._sent)

    def begin(self) -> float:
        """A publishing round starts: nothing is left for later yet. Returns the round's time."""
        now = self._clock()
        self.wake_at = LATER
        if now - self._forgot_at >= FORGET_EVERY_S:
            self.forget_idle(now)
        return now

    def idle(self) -> None:
        """Nothing is waiting to be published."""
        self.wake_at = LATER

    def wait(self, timeout: float) -> float:
        """How long the bridge may wait for messages: `timeout`, or less if something is due sooner."""
        if self.wake_at == LATER:
            return timeout
        return min(timeout, max(0.0, self.wake_at - self._clock()))

    def retry_soon(self, now: float) -> None:
        """The bus did not take a message: the round ends, and the next one comes shortly."""
        self.wake_at = now + RETRY_S

    # -- event batches ----------------------------------------------------------------

    def events_due(self, video_id: str, now: float) -> bool:
        """May the video's queued events go now? If not, the round wakes when they may."""
        sent = self._sent.get(video_id)
        if sent is None:
            return True
        due = sent.events + self.events_interval
        if now < due:
            self.wake_at = min(self.wake_at, due)
            return False
        return True

    def events_sent(self, video_id: str, now: float) -> None:
        self._entry(video_id, now).events = now

    # -- retained views ---------------------------------------------------------------

    def retained_due(self, video_id: str, now: float) -> tuple[bool, bool]:
        """Whether the video's `recent` and its `reactions` may be republished now."""
        sent = self._sent.get(video_id)
        if sent is None:
            return True, True
        interval = self.retained_interval
        return now >= sent.recent + interval, now >= sent.reactions + interval

    def retained_later(self, video_id: str, now: float) -> None:
        """Some of the video's retained views were left for later: the round wakes when one is due."""
        sent = self._sent.get(video_id)
        if sent is None:
            return
        for due in (sent.recent + self.retained_interval, sent.reactions + self.retained_interval):
            if due > now:
                self.wake_at = min(self.wake_at, due)

    def retained_sent(self, video_id: str, now: float, *, recent: bool, reactions: bool) -> None:
        if recent or reactions:
            sent = self._entry(video_id, now)
            if recent:
                sent.recent = now
            if reactions:
                sent.reactions = now

    # -- upkeep -----------------------------------------------------------------------

    def forget_idle(self, now: float) -> int:
        """Drop the videos whose every interval has passed: for them the answers are those for a
        video never seen, so nothing changes but the table's size. Returns how many went."""
        self._forgot_at = now
        longest = max(self.events_interval, self.retained_interval)
        idle = [v for v, s in self._sent.items() if now - max(s.events, s.recent, s.reactions) >= longest]
        for video_id in idle:
            del self._sent[video_id]
        self._forget_above = max(self.held, len(self._sent) + self.held // 8)  # no scan per new video
        return len(idle)

    def _entry(self, video_id: str, now: float) -> _Sent:
        sent = self._sent.get(video_id)
        if sent is None:
            if len(self._sent) >= self._forget_above:
                self.forget_idle(now)
            sent = self._sent[video_id] = _Sent()
        return sent
