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

import paho.mqtt.client as paho
from prometheus_client import start_http_server
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.apply import BatchResult, Outcome, apply_batch
from bridge.metrics import BridgeMetrics
from bridge.outbox import (
    mark_published,
    recent_comments,
    stuck_pending,
    unpublished_events,
    videos_with_unpublished,
)
from bridge.recent import RecentWindow
from livecomments.config import Settings
from livecomments.db import create_schema, make_engine
from livecomments.models import Video, VideoStatus
from livecomments.mqtt_client import make_client, service_address
from livecomments.validation import FieldError
from livecomments.wire import Submission, comment_view, decode_submission, encode_batch, encode_recent, ticker_text

log = logging.getLogger("livecomments.bridge")

PUBLISH_TIMEOUT_S = 10.0
SWEEP_INTERVAL_S = 1.0


@dataclass
class Received:
    """An ingest message and the connection it came on (acks only go back on that one)."""

    message: paho.MQTTMessage
    generation: int


class Bridge:
    def __init__(self, settings: Settings, client_id: str = "livecomments-bridge") -> None:
        self.settings = settings
        self.topics = settings.topics
        self.client_id = client_id
        self.metrics = BridgeMetrics()
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._retry: list[Received] = []
        self._generation = 0
        self._resync = threading.Event()
        self._windows: dict[str, RecentWindow] = {}
        self._last_sweep = 0.0
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
        client.subscribe(self.topics.ingest_comments_filter, qos=1)
        self._resync.set()
        log.info("connected to the broker; consuming %s", self.topics.ingest_comments_filter)

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
        from_ingest, acks = self._decode(received)
        submissions = from_ingest + self._sweep()
        if submissions:
            try:
                result = self._record(submissions)
            except OperationalError:
                log.exception("database unavailable; will retry %d submissions", len(submissions))
                self.metrics.db_errors.inc()
                self._retry = received
                time.sleep(0.5)
                return
            self._count(result.outcomes, len(from_ingest))
            self._update_windows(result)
            touched = result.videos
        else:
            touched = set()
        self._ack(acks)
        if self._resync.is_set() and self._connected():
            self._resync.clear()
            touched |= self._resync_targets()
        if touched:
            self._publish(touched)
        if received or touched:
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

    def _decode(self, received: Iterable[Received]) -> tuple[list[Submission], list[Received]]:
        subs: list[Submission] = []
        acks: list[Received] = []
        for item in received:
            acks.append(item)
            msg = item.message
            try:
                video_id = self.topics.video_of_ingest(msg.topic)
                if video_id is None:
                    raise FieldError("topic", f"not an ingest comments topic: {msg.topic[:100]!r}")
                subs.append(decode_submission(bytes(msg.payload), video_id))
                self.metrics.ingest.labels("valid").inc()
            except FieldError as exc:
                self.metrics.ingest.labels("invalid").inc()
                log.warning("rejected ingest message on %r (%d bytes): %s", msg.topic[:100], len(msg.payload), exc)
        return subs, acks

    def _sweep(self) -> list[Submission]:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return []
        self._last_sweep = now
        assert self._sessions is not None
        cutoff = int(time.time() * 1000 - self.settings.sweep_after_s * 1000)
        with self._sessions() as session:
            stuck = stuck_pending(session, cutoff)
        if stuck:
            log.info("sweeper re-drives %d pending comments", len(stuck))
        return stuck

    def _record(self, submissions: list[Submission]) -> BatchResult:
        """All in one transaction; if one submission poisons the batch, each on its own."""
        assert self._sessions is not None
        try:
            with self._sessions.begin() as session:
                return apply_batch(session, submissions)
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.exception("batch of %d failed; deciding one by one", len(submissions))
        merged = BatchResult()
        for sub in submissions:
            try:
                with self._sessions.begin() as session:
                    one = apply_batch(session, [sub])
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
            live = set(
                session.scalars(select(Video.id).where(Video.status == VideoStatus.LIVE, Video.last_seq > 0))
            )
        self._windows.clear()  # rebuilt from the database: it is the source of truth
        return backlog | live

    def _publish(self, videos: set[str]) -> None:
        if not self._connected():
            self._resync.set()  # publish it all once the broker is back
            return
        assert self._sessions is not None
        for video_id in sorted(videos):
            if not self._flush_events(video_id) or not self._publish_retained(video_id):
                self._resync.set()
                return

    def _flush_events(self, video_id: str) -> bool:
        """Publish the video's unpublished events in seq order; mark them once the broker has them."""
        assert self._sessions is not None and self._client is not None
        while True:
            with self._sessions() as session:
                events = unpublished_events(session, video_id)
            if not events:
                return True
            info = self._client.publish(self.topics.comments(video_id), encode_batch(video_id, events), qos=1)
            if not self._confirmed(info):
                return False
            with self._sessions.begin() as session:
                mark_published(session, video_id, [int(e["seq"]) for e in events])
            self.metrics.events_published.inc(len(events))
            self.metrics.batches_published.inc()

    def _publish_retained(self, video_id: str) -> bool:
        assert self._sessions is not None and self._client is not None
        with self._sessions() as session:
            window = self._window(session, video_id)
            video = session.get(Video, video_id)
            seq = video.last_seq if video is not None else 0
        infos = [
            self._client.publish(
                self.topics.recent(video_id), encode_recent(video_id, seq, window.comments()), qos=1, retain=True
            )
        ]
        latest = window.latest()
        if latest is not None:
            ticker = ticker_text(latest["user"]["name"], latest["text"])
            infos.append(self._client.publish(self.topics.ticker(video_id), ticker, qos=1, retain=True))
        return all(self._confirmed(info) for info in infos)

    @staticmethod
    def _confirmed(info: paho.MQTTMessageInfo) -> bool:
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()
