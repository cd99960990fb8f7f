"""The bridge service: the single writer of live/.

Each step drains what arrived on ingest/ (plus what the sweeper finds stuck), decides
and records it in one transaction, acks the messages only after the commit, then
publishes the video's unpublished events in seq order and refreshes `recent` and
`ticker`. Events are written to the `live_events` outbox in the same transaction
that assigns their seq, and marked published once the broker has confirmed them, so
a crash anywhere leaves nothing lost: what was not confirmed is published again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as paho
from prometheus_client import start_http_server
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.apply import BatchResult, Outcome, apply_batch
from bridge.dirty import DirtyVideos, Flags
from bridge.inbox import Inbox
from bridge.metrics import BridgeMetrics
from bridge.outbox import (
    add_live_reactions,
    mark_published,
    recent_comments,
    stuck_pending,
    unpublished_events,
    video_reaction_totals,
    video_state_of,
    videos_with_unpublished,
)
from bridge.recent import RecentWindow
from livecomments.config import Settings
from livecomments.db import create_schema, make_engine
from livecomments.models import Video, VideoStatus
from livecomments.mqtt_client import make_client, service_address
from livecomments.reads import reaction_totals
from livecomments.recent_cache import RecentCache
from livecomments.validation import FieldError
from livecomments.wire import Submission, comment_view, encode_batch, encode_reactions, encode_recent, ticker_text

log = logging.getLogger("livecomments.bridge")

PUBLISH_TIMEOUT_S = 10.0
EVENTS_INTERVAL_S = 0.05  # one event batch per video per 50 ms at most: <= 20 messages/s per viewer
RETAINED_INTERVAL_S = 0.25  # recent/ticker and reactions are republished at most every 250 ms
SWEEP_INTERVAL_S = 1.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Received:
    """An ingest message and the connection it came on (acks only go back on that one)."""

    message: paho.MQTTMessage
    generation: int


class Bridge:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self.settings = settings
        self.topics = settings.topics
        part = settings.partition
        self.client_id = client_id or f"livecomments-bridge-{part.index}-of-{part.count}"
        self.metrics = BridgeMetrics()
        self._partition = settings.partition
        self._cache = RecentCache.from_url(settings.redis_url)
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._retry: list[Received] = []
        self._generation = 0
        self._resync = threading.Event()
        self._windows: dict[str, RecentWindow] = {}
        self._dirty = DirtyVideos()
        self._reactions_sent: dict[str, float] = {}
        self._recent_sent: dict[str, float] = {}
        self._events_sent: dict[str, float] = {}
        self._last_sweep = 0.0
        self._last_scan = 0.0
        self._client: paho.Client | None = None
        self._sessions: sessionmaker[Session] | None = None
        self.ready = threading.Event()

    # -- lifecycle ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        engine = make_engine(self.settings.effective_database_url)
        create_schema(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        client = self._connect()
        metrics_server = self._serve_metrics()
        log.info("bridge started (database %s)", engine.url.render_as_string(hide_password=True))
        try:
            while not stop.is_set():
                self.step(timeout=0.05)
        finally:
            client.disconnect()
            client.loop_stop()
            if metrics_server is not None:
                metrics_server.shutdown()
            engine.dispose()
            log.info("bridge stopped")

    def _serve_metrics(self) -> Any:
        if not self.settings.bridge_metrics_port:
            return None
        server, _thread = start_http_server(
            self.settings.bridge_metrics_port, addr=self.settings.host, registry=self.metrics.registry
        )
        return server

    def _connect(self) -> paho.Client:
        addr = service_address(self.settings, "bridge")
        client = make_client(self.client_id, addr, clean_session=False, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(addr.host, addr.port, keepalive=30)
        client.loop_start()
        self._client = client
        return client

    # -- MQTT callbacks (paho's network thread) ------------------------------------

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the bridge: %s", reason)
            return
        self._generation += 1
        client.subscribe(self.topics.ingest_filter, qos=1)
        self._resync.set()
        log.info("connected to the broker; consuming %s", self.topics.ingest_filter)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        log.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._inbox.put(Received(message, self._generation))

    # -- the work ------------------------------------------------------------------

    def step(self, timeout: float) -> None:
        """One round: decide what arrived, ack it, publish what is unpublished."""
        assert self._sessions is not None
        started = time.perf_counter()
        received = self._drain(timeout)
        inbox = self._decode(received)
        submissions = inbox.submissions + self._sweep()
        if submissions or inbox.reactions:
            try:
                with self.metrics.commit_seconds.time():
                    result = self._record(submissions, inbox.reactions)
            except OperationalError:
                log.exception("database unavailable; will retry %d messages", len(received))
                self.metrics.db_errors.inc()
                self._retry = received
                time.sleep(0.5)
                return
            self._count(result.outcomes, len(inbox.submissions))
            self.metrics.batch_size.observe(len(submissions))
            now = _now_ms()
            for sub in inbox.submissions:
                self.metrics.ingest_lag.observe(max(0, now - sub.ts) / 1000)
            self._update_windows(result)
            self._dirty.mark(result.videos, recent=True)
            self._dirty.mark(set(inbox.reactions), reactions=True)
        for video_id, changed in inbox.nudged.items():
            events = "events" in changed
            self._dirty.mark(
                [video_id], recent=events, reload=events, state="state" in changed, reactions="reactions" in changed
            )
        self._ack(received)
        self._scan_outbox()
        if self._resync.is_set() and self._connected():
            self._resync.clear()
            self._dirty.mark(self._resync_targets(), recent=True, state=True, reactions=True, reload=True)
        if self._dirty:
            self._publish()
        if received:
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.ready.set()

    def _drain(self, timeout: float) -> list[Received]:
        items, self._retry = self._retry, []
        if not items:
            try:
                items.append(self._inbox.get(timeout=timeout))
            except queue.Empty:
                return items
        while len(items) < self.settings.bridge_batch_max:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _decode(self, received: Iterable[Received]) -> Inbox:
        inbox = Inbox()
        for item in received:
            msg = item.message
            parsed = self.topics.parse_ingest(msg.topic)
            if parsed is not None and not self._partition.owns(parsed[0]):
                continue  # another bridge instance handles this video (it gets the message too)
            rejected = len(inbox.invalid)
            try:
                self.metrics.ingest.labels("valid").inc(inbox.add(parsed, bytes(msg.payload)))
                for exc in inbox.invalid[rejected:]:  # elements of an array, each counted
                    self.metrics.ingest.labels("invalid").inc()
                    log.warning("rejected a submission in the ingest array on %r: %s", msg.topic[:100], exc)
            except FieldError as exc:
                self.metrics.ingest.labels("invalid").inc()
                log.warning("rejected ingest message on %r (%d bytes): %s", msg.topic[:100], len(msg.payload), exc)
        return inbox

    def _sweep(self) -> list[Submission]:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return []
        self._last_sweep = now
        assert self._sessions is not None
        cutoff = int(time.time() * 1000 - self.settings.sweep_after_s * 1000)
        with self._sessions() as session:
            stuck = [s for s in stuck_pending(session, cutoff, limit=5000) if self._partition.owns(s.video_id)][:500]
        if stuck:
            log.info("sweeper re-drives %d pending comments", len(stuck))
        return stuck

    def _record(self, submissions: list[Submission], reactions: dict[str, dict[str, int]]) -> BatchResult:
        """All in one transaction; if one submission poisons the batch, each on its own."""
        assert self._sessions is not None
        try:
            with self._sessions.begin() as session:
                for video_id, counts in reactions.items():
                    add_live_reactions(session, video_id, counts)
                return apply_batch(session, submissions, _now_ms())
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.exception("batch of %d failed; deciding one by one", len(submissions))
        merged = BatchResult()
        with self._sessions.begin() as session:
            for video_id, counts in reactions.items():
                add_live_reactions(session, video_id, counts)
        for sub in submissions:
            try:
                with self._sessions.begin() as session:
                    one = apply_batch(session, [sub], _now_ms())
            except OperationalError:
                raise
            except SQLAlchemyError:
                log.exception("submission %s cannot be recorded; rejected", sub.id)
                one = BatchResult(outcomes=[Outcome.REJECTED])
            merged.outcomes += one.outcomes
            merged.approved += one.approved
        return merged

    def _count(self, outcomes: list[Outcome], n_ingest: int) -> None:
        for i, outcome in enumerate(outcomes):
            self.metrics.outcomes.labels(outcome.value, "ingest" if i < n_ingest else "sweeper").inc()

    def _scan_outbox(self) -> None:
        """Now and then, find events others appended whose nudge never came."""
        now = time.monotonic()
        if now - self._last_scan < SWEEP_INTERVAL_S:
            return
        self._last_scan = now
        assert self._sessions is not None
        with self._sessions() as session:
            backlog = {v for v in videos_with_unpublished(session) if self._partition.owns(v)}
        self._dirty.mark(backlog, recent=True, state=True, reactions=True, reload=True)

    def _ack(self, acks: Iterable[Received]) -> None:
        if self._client is None:
            return
        for item in acks:
            if item.generation == self._generation:  # a mid means nothing on a newer connection
                self._client.ack(item.message.mid, item.message.qos)

    def _connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    # -- publishing ----------------------------------------------------------------

    def _window(self, session: Session, video_id: str) -> RecentWindow:
        window = self._windows.get(video_id)
        if window is None:
            size = self.settings.recent_size
            window = RecentWindow(size, recent_comments(session, video_id, size))
            self._windows[video_id] = window
        return window

    def _update_windows(self, result: BatchResult) -> None:
        for comment in result.approved:
            window = self._windows.get(comment.video_id)
            if window is None:
                continue  # loaded from the database (with this comment) when first published
            window.add(comment_view(comment))
        for parent_id, count in result.reply_counts.items():
            for window in self._windows.values():
                window.bump_replies(parent_id, count)

    def _resync_targets(self) -> set[str]:
        """After (re)connecting: republish the backlog and every live video's retained topics."""
        assert self._sessions is not None
        with self._sessions() as session:
            backlog = set(videos_with_unpublished(session))
            live = set(session.scalars(select(Video.id).where(Video.status == VideoStatus.LIVE)))
        self._windows.clear()  # rebuilt from the database: it is the source of truth
        return {v for v in backlog | live if self._partition.owns(v)}

    def _publish(self) -> None:
        if not self._connected():
            self._resync.set()  # publish it all once the broker is back
            return
        now = time.monotonic()
        for video_id in sorted(self._dirty.videos()):
            if now - self._sent_at(self._events_sent, video_id) < EVENTS_INTERVAL_S:
                continue  # this video's viewers got a batch a moment ago: let the next one grow
            flags = self._dirty.take(
                video_id,
                recent_due=now - self._sent_at(self._recent_sent, video_id) >= RETAINED_INTERVAL_S,
                reactions_due=now - self._sent_at(self._reactions_sent, video_id) >= RETAINED_INTERVAL_S,
            )
            if not self._publish_video(video_id, flags):
                self._dirty.mark({video_id}, **flags.as_marks())
                self._resync.set()
                return
            self._events_sent[video_id] = now
            if flags.recent:
                self._recent_sent[video_id] = now
            if flags.reactions:
                self._reactions_sent[video_id] = now

    @staticmethod
    def _sent_at(table: dict[str, float], video_id: str) -> float:
        return table.get(video_id, float("-inf"))

    def _publish_video(self, video_id: str, flags: Flags) -> bool:
        if not self._flush_events(video_id):
            return False
        if flags.reload:
            self._windows.pop(video_id, None)  # a delete, approve or restore changed it: rebuild
        infos: list[paho.MQTTMessageInfo] = []
        if flags.recent or flags.reload:
            infos += self._retained_recent(video_id)
        if flags.state:
            infos += self._retained_state(video_id)
        if flags.reactions:
            infos += self._retained_reactions(video_id)
        return all(self._confirmed(info) for info in infos)

    def _flush_events(self, video_id: str) -> bool:
        """Publish the video's unpublished events in seq order; mark them once the broker has them."""
        assert self._sessions is not None and self._client is not None
        while True:
            with self._sessions() as session:
                events = unpublished_events(session, video_id)
            if not events:
                return True
            sent = time.perf_counter()
            info = self._client.publish(self.topics.comments(video_id), encode_batch(video_id, events), qos=1)
            if not self._confirmed(info):
                return False
            self.metrics.publish_seconds.observe(time.perf_counter() - sent)
            with self._sessions.begin() as session:
                mark_published(session, video_id, [int(e["seq"]) for e in events])
            self.metrics.events_published.inc(len(events))
            self.metrics.batches_published.inc()

    def _retain(self, topic: str, payload: bytes) -> paho.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=1, retain=True)

    def _retained_recent(self, video_id: str) -> list[paho.MQTTMessageInfo]:
        assert self._sessions is not None
        with self._sessions() as session:
            window = self._window(session, video_id)
            video = session.get(Video, video_id)
            seq = video.last_seq if video is not None else 0
        comments = window.comments()
        infos = [self._retain(self.topics.recent(video_id), encode_recent(video_id, seq, comments))]
        if self._cache is not None:
            self._cache.put(video_id, seq, comments, complete=len(comments) < self.settings.recent_size)
        latest = window.latest()
        if latest is not None:
            ticker = ticker_text(latest["user"]["name"], latest["text"])
            infos.append(self._retain(self.topics.ticker(video_id), ticker))
        return infos

    def _retained_state(self, video_id: str) -> list[paho.MQTTMessageInfo]:
        assert self._sessions is not None
        with self._sessions() as session:
            state = video_state_of(session, video_id)
        if state is None:
            return []
        return [self._retain(self.topics.state(video_id), orjson.dumps(state))]

    def _retained_reactions(self, video_id: str) -> list[paho.MQTTMessageInfo]:
        assert self._sessions is not None
        with self._sessions() as session:
            window = self._window(session, video_id)
            totals = video_reaction_totals(session, video_id)
            per_comment = reaction_totals(session, [c["id"] for c in window.comments()])
        return [self._retain(self.topics.reactions(video_id), encode_reactions(video_id, totals, per_comment))]

    @staticmethod
    def _confirmed(info: paho.MQTTMessageInfo) -> bool:
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()
