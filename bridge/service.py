"""The bridge service: the single writer of live/.

Each batch of what arrived on ingest/ (plus what the sweeper finds stuck) is decided and
recorded in one transaction (set-based SQL, bridge.apply) on the committer's thread, while
the bridge's thread decodes the next batch and publishes the last; the messages are acked
only after their batch's commit. Events are written to the `live_events` outbox in the
same transaction that assigns their seq, encoded once; the same bytes are published
from memory (bridge.stream), pipelined: no step waits for a PUBACK. A message's events
are marked published, in the next transaction, once the broker has confirmed it, so a
crash anywhere leaves nothing lost: the next bridge finds what was not confirmed in the
outbox and publishes it again, in seq order (duplicates carry the same seq). Across a
reconnect of this process paho itself sends the unconfirmed messages again, first and
in order; new ones wait for the subscription to be back, so each connection sees every
video's seq strictly increasing.

A quiet video's comment goes out at once; a busy video's events are gathered into one
message per EVENTS_INTERVAL_S (<= 20 messages/s per viewer). `recent`, `ticker` and
`reactions` are republished at most every RETAINED_INTERVAL_S, from the in-memory window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as paho
from prometheus_client import start_http_server
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.apply import BatchResult, Outcome, Screened, apply_batch, prescreen
from bridge.dirty import DirtyVideos, Flags
from bridge.inbox import Inbox
from bridge.ingest_client import IngestClient
from bridge.metrics import BridgeMetrics
from bridge.queries import (
    add_live_reactions,
    events_after,
    last_seq_of,
    mark_published_ranges,
    recent_comments,
    stuck_pending,
    unpublished_heads,
    video_reaction_totals,
    video_state_of,
)
from bridge.recent import RecentWindow
from bridge.stream import InFlight, Streams, encode_raw_batch
from infra.db import create_schema, make_engine, read_only
from infra.mqtt_client import make_client, service_address
from infra.recent_cache import RecentCache
from livecomments.config import Settings
from livecomments.models import Video, VideoStatus
from livecomments.reads import reaction_totals
from livecomments.validation import FieldError
from livecomments.wire import Submission, encode_reactions, encode_recent, ticker_text
from moderation.terms import TermMatcher

log = logging.getLogger("livecomments.bridge")

EVENTS_INTERVAL_S = 0.05  # one event batch per video per 50 ms at most: <= 20 messages/s per viewer
RETAINED_INTERVAL_S = 0.25  # recent/ticker and reactions are republished at most every 250 ms
SWEEP_INTERVAL_S = 1.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# An ingest message: (mid, qos, topic as sent, payload, the connection it came on: acks go back on that one).
Received = tuple[int, int, bytes, bytes, int]
QUEUED = (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN)  # publish results paho keeps the message for


@dataclass
class Job:
    """One batch on its way through the committer: what it came from, what it is, how it went."""

    received: list[Received]  # acked once `result` is committed
    inbox: Inbox
    submissions: list[Submission]  # the inbox's, then the sweeper's
    confirmed: list[InFlight]  # PUBACKed event batches, marked published in the same transaction
    known: dict[str, int]  # a copy of Streams.known when handed over
    started: float
    screened: dict[str, Screened] = field(default_factory=dict)  # texts screened while the batch before committed
    result: BatchResult | None = None
    error: OperationalError | None = None  # the database is unavailable: the messages are retried
    crash: BaseException | None = None  # anything else: raised on the bridge's thread


class Committer:
    """A thread that runs one job at a time, handed over by the bridge's thread and taken back by it.

    One job in flight at most: transactions run one after another in the order handed over,
    so each video's seq is assigned in order, and the bridge sees each job's end before the
    next one starts (it acks and queues one job's outcome before handing over the next)."""

    def __init__(self, work: Callable[[Job], None], wake: threading.Event) -> None:
        self._work = work
        self._wake = wake  # the bridge's: set when a job ends
        self._lock = threading.Condition()
        self._job: Job | None = None  # handed over, not yet taken back
        self._done = False
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name="bridge-committer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A job is handed over and not yet taken back."""
        return self._job is not None

    @property
    def finished(self) -> bool:
        return self._done

    def submit(self, job: Job) -> None:
        with self._lock:
            assert self._job is None, "one job at a time"
            self._job, self._done = job, False
            self._lock.notify_all()

    def take(self) -> Job | None:
        """The finished job (it is no longer busy), or None."""
        with self._lock:
            if not self._done:
                return None
            job, self._job, self._done = self._job, None, False
            return job

    def wait(self, timeout: float | None = None) -> bool:
        """Until the job in flight is finished (True) or `timeout` passes."""
        with self._lock:
            return self._lock.wait_for(lambda: self._done or self._job is None, timeout)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def _main(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._stopping or (self._job is not None and not self._done))
                if self._job is None or self._done:
                    return  # stopping, nothing left to do
                job = self._job
            try:
                self._work(job)
            except BaseException as exc:  # noqa: BLE001 - raised again on the bridge's thread, as before
                job.crash = exc
            with self._lock:
                self._done = True
                self._lock.notify_all()
            self._wake.set()


class Bridge:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self.settings = settings
        self.topics = settings.topics
        part = settings.partition
        self.client_id = client_id or f"livecomments-bridge-{part.index}-of-{part.count}"
        self.metrics = BridgeMetrics()
        self._partition = settings.partition
        self._cache = RecentCache.from_url(settings.redis_url)
        self._inbox: deque[Received] = deque()
        self._wake = threading.Event()  # set when the inbox gets something
        self._retry: list[Received] = []
        self._pending_received: list[Received] = []  # gathered while the committer works on a batch
        self._pending = Inbox()  # and decoded
        self._screened: dict[str, Screened] = {}  # and their texts screened (bridge.apply.prescreen)
        self._terms: dict[str, TermMatcher] = {}  # each video's blocked terms as its last transaction found them
        self._committer = Committer(self._commit, self._wake)  # started in run()
        self._generation = 0
        self._resync = threading.Event()
        self._subscribed = False  # the ingest subscription is back: paho has resent what was in flight
        self._streams = Streams()
        self._pubacks: deque[tuple[int, float]] = deque()  # (mid, when), from paho's thread
        self._wake_at = float("inf")  # when a throttled video is next due
        self._windows: dict[str, RecentWindow] = {}
        self._dirty = DirtyVideos()
        self._reactions_sent: dict[str, float] = {}
        self._recent_sent: dict[str, float] = {}
        self._events_sent: dict[str, float] = {}
        self._last_sweep = 0.0
        self._last_scan = 0.0
        self._client: IngestClient | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._reads: sessionmaker[Session] = sessionmaker(expire_on_commit=False)  # bound in run()
        self.ready = threading.Event()

    # -- lifecycle ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        engine = make_engine(self.settings.effective_database_url)
        create_schema(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads.configure(bind=read_only(engine))
        self._committer.start()
        client = self._connect()
        metrics_server = self._serve_metrics()
        log.info("bridge started (database %s)", engine.url.render_as_string(hide_password=True))
        try:
            while not stop.is_set():
                self.step(timeout=0.05)
            if self._committer.busy:  # let the batch in flight end, and ack it
                self._committer.wait()
                job = self._committer.take()
                if job is not None:
                    self._complete(job)
        finally:
            self._committer.stop()
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

    def _connect(self) -> IngestClient:
        addr = service_address(self.settings, "bridge")
        client = IngestClient.adopt(make_client(self.client_id, addr, clean_session=False, manual_ack=True))
        client.sink = self._on_ingest
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
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
        self._subscribed = False  # until SUBACK: paho first sends again what was in flight, in order
        client.subscribe(self.topics.ingest_filter, qos=1)
        self._resync.set()
        log.info("connected to the broker; consuming %s", self.topics.ingest_filter)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        log.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_subscribe(self, *_args: Any) -> None:
        self._subscribed = True

    def _on_ingest(self, mid: int, topic: bytes, payload: bytes) -> None:
        """A QoS 1 ingest message (IngestClient's sink): queued as it came, nothing more here."""
        self._inbox.append((mid, 1, topic, payload, self._generation))
        if not self._wake.is_set():  # after the append: a drain that cleared it sees the message
            self._wake.set()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        """Anything else paho delivers (a QoS 0 publish on ingest/)."""
        self._inbox.append((message.mid, message.qos, message._topic, bytes(message.payload), self._generation))
        if not self._wake.is_set():
            self._wake.set()

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        self._pubacks.append((mid, time.perf_counter()))

    # -- the work ------------------------------------------------------------------

    def step(self, timeout: float) -> None:
        """One round: take what the committer finished (ack it, queue its events), gather and decode
        what arrived meanwhile, hand the next batch to the committer, publish what is due.

        The transaction of batch N runs on the committer's thread while this one decodes batch
        N+1 and publishes N-1's events. Batches are committed one after another, in the order
        they were handed over, and each one's messages are acked only after its commit."""
        assert self._sessions is not None
        self._take_pubacks()
        job = self._committer.take()
        if job is not None:
            self._complete(job)
        wait = 0.0 if job is not None else min(timeout, max(0.0, self._wake_at - time.monotonic()))
        self._gather(wait)
        if not self._committer.busy:
            self._hand_over()
        if self._dirty or self._streams.queued:
            self._publish()
        else:
            self._wake_at = float("inf")
        self.ready.set()

    def _gather(self, timeout: float) -> None:
        """Drain and decode into the pending batch; wait up to `timeout` for messages or the committer."""
        room = self.settings.bridge_batch_max - len(self._pending_received)
        if room <= 0:  # full: only the committer's end can move things on
            if self._committer.busy and timeout > 0:
                self._committer.wait(timeout)
            return
        received = self._drain(timeout, room)
        if received:
            self._pending_received += received
            before = len(self._pending.submissions)
            self._decode(received, self._pending)
            self._screened.update(prescreen(self._pending.submissions[before:], self._terms))

    def _hand_over(self) -> None:
        """The committer is idle: what touches the outbox bookkeeping runs now, then the next batch goes."""
        received, inbox, screened = self._pending_received, self._pending, self._screened
        self._pending_received, self._pending, self._screened = [], Inbox(), {}
        for video_id, changed in inbox.nudged.items():
            events = "events" in changed
            if events:
                self._sync(video_id)
            self._dirty.mark(
                [video_id], recent=events, reload=events, state="state" in changed, reactions="reactions" in changed
            )
        resync = self._resync.is_set() and self._connected()
        self._scan_outbox(force=resync)
        if resync:
            self._resync.clear()
            self._dirty.mark(self._resync_targets(), recent=True, state=True, reactions=True, reload=True)
        submissions = inbox.submissions + self._sweep()
        if submissions or inbox.reactions:
            self._committer.submit(Job(received, inbox, submissions, self._streams.take_confirmed(),
                                       dict(self._streams.known), time.perf_counter(), screened))
            return
        if self._streams.confirmed:
            self._mark_confirmed()
        self._ack(received)  # nothing of theirs to commit (invalid, another partition's, nudges)

    def _complete(self, job: Job) -> None:
        """The committer is done with `job`: on success ack its messages and queue its events."""
        if job.crash is not None:
            raise job.crash
        if job.error is not None:
            log.error("database unavailable; will retry %d messages", len(job.received), exc_info=job.error)
            self.metrics.db_errors.inc()
            self._streams.confirmed = job.confirmed + self._streams.confirmed  # marked next time
            self._retry = job.received + self._pending_received + self._retry
            self._pending_received, self._pending, self._screened = [], Inbox(), {}
            time.sleep(0.5)
            return
        result, inbox = job.result, job.inbox
        assert result is not None
        self._count(result.outcomes, len(inbox.submissions))
        self.metrics.batch_size.observe(len(job.submissions))
        now = _now_ms()
        lag = self.metrics.ingest_lag
        for sub in inbox.submissions:
            lag.observe(max(0, now - sub.ts) / 1000)
        self._terms.update(result.terms)
        self._take_events(result)
        self._update_windows(result)
        self._dirty.mark(result.videos, recent=True)
        self._dirty.mark(set(inbox.reactions), reactions=True)
        self._ack(job.received)
        self.metrics.batch_seconds.observe(time.perf_counter() - job.started)

    def _commit(self, job: Job) -> None:
        """On the committer's thread: the job's one transaction (nothing else of the bridge's state is touched)."""
        try:
            with self.metrics.commit_seconds.time():
                job.result = self._record(job.submissions, job.inbox.reactions, job.confirmed, job.known,
                                          job.screened)
        except OperationalError as exc:
            job.error = exc

    def _drain(self, timeout: float, room: int) -> list[Received]:
        items, self._retry = self._retry[:room], self._retry[room:]
        inbox = self._inbox
        if not items and not inbox and timeout > 0:
            self._wake.clear()
            if not inbox and not self._committer.finished:
                self._wake.wait(timeout)
        room -= len(items)
        while room > 0 and inbox:
            items.append(inbox.popleft())
            room -= 1
        return items

    def _decode(self, received: Iterable[Received], inbox: Inbox) -> None:
        valid = 0
        for _mid, _qos, raw_topic, payload, _generation in received:
            topic = raw_topic.decode(errors="replace")  # not UTF-8: no ingest topic of ours, rejected below
            parsed = self.topics.parse_ingest(topic)
            if parsed is not None and not self._partition.owns(parsed[0]):
                continue  # another bridge instance handles this video (it gets the message too)
            rejected = len(inbox.invalid)
            try:
                valid += inbox.add(parsed, payload)
                for exc in inbox.invalid[rejected:]:  # elements of an array, each counted
                    self.metrics.ingest.labels("invalid").inc()
                    log.warning("rejected a submission in the ingest array on %r: %s", topic[:100], exc)
            except FieldError as exc:
                self.metrics.ingest.labels("invalid").inc()
                log.warning("rejected ingest message on %r (%d bytes): %s", topic[:100], len(payload), exc)
        if valid:
            self.metrics.ingest.labels("valid").inc(valid)

    def _sweep(self) -> list[Submission]:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return []
        self._last_sweep = now
        assert self._sessions is not None
        cutoff = int(time.time() * 1000 - self.settings.sweep_after_s * 1000)
        with self._reads() as session:
            stuck = [s for s in stuck_pending(session, cutoff, limit=5000) if self._partition.owns(s.video_id)][:500]
        if stuck:
            log.info("sweeper re-drives %d pending comments", len(stuck))
        return stuck

    def _record(self, submissions: list[Submission], reactions: dict[str, dict[str, int]],
                confirmed: list[InFlight], known: dict[str, int],
                screened: dict[str, Screened] | None = None) -> BatchResult:
        """All in one transaction; if one submission poisons the batch, each on its own.

        The events the broker confirmed (`confirmed`) are marked published in it. `known`: the last
        seq of each video whose events this process holds (see apply_batch). OperationalError: the
        caller retries the messages and marks `confirmed` again (a comment already decided comes back
        a duplicate)."""
        assert self._sessions is not None
        try:
            with self._sessions.begin() as session:
                self._write_marks(session, confirmed)
                for video_id, counts in reactions.items():
                    add_live_reactions(session, video_id, counts)
                return apply_batch(session, submissions, _now_ms(), known, screened)
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.exception("batch of %d failed; deciding one by one", len(submissions))
        merged = BatchResult()
        with self._sessions.begin() as session:
            self._write_marks(session, confirmed)
            for video_id, counts in reactions.items():
                add_live_reactions(session, video_id, counts)
        known = dict(known)
        for sub in submissions:
            try:
                with self._sessions.begin() as session:
                    one = apply_batch(session, [sub], _now_ms(), known, screened)
            except OperationalError:
                raise
            except SQLAlchemyError:
                log.exception("submission %s cannot be recorded; rejected", sub.id)
                one = BatchResult(outcomes=[Outcome.REJECTED])
            merged.merge(one)
            known.update(one.last_seq)
        return merged

    def _write_marks(self, session: Session, confirmed: list[InFlight]) -> None:
        mark_published_ranges(session, [(c.video_id, c.first, c.last) for c in confirmed])

    def _mark_confirmed(self) -> None:
        """No transaction this step: the confirmed events are marked in one of their own."""
        assert self._sessions is not None
        confirmed = self._streams.take_confirmed()
        try:
            with self._sessions.begin() as session:
                self._write_marks(session, confirmed)
        except SQLAlchemyError:
            log.exception("could not mark %d batches published; will retry", len(confirmed))
            self._streams.confirmed = confirmed + self._streams.confirmed

    def _count(self, outcomes: list[Outcome], n_ingest: int) -> None:
        counts = Counter((o.value, "ingest" if i < n_ingest else "sweeper") for i, o in enumerate(outcomes))
        for (outcome, source), n in counts.items():
            self.metrics.outcomes.labels(outcome, source).inc(n)

    def _take_events(self, result: BatchResult) -> None:
        streams = self._streams
        for video_id, last in result.last_seq.items():
            held = streams.known.get(video_id)
            if held is not None and held > last:
                log.error("video %s: the database is at seq %d, behind %d sent; starting over", video_id, last, held)
                streams.forget(video_id)
                self._sync(video_id)
        for video_id, events in result.events.items():
            streams.extend(video_id, events)

    def _sync(self, video_id: str) -> None:
        """Take the video's events others appended (or, for a video not seen yet, the unpublished ones)."""
        assert self._sessions is not None
        with self._reads() as session:
            events = events_after(session, video_id, self._streams.known.get(video_id))
        self._streams.extend(video_id, events)

    def _scan_outbox(self, force: bool = False) -> None:
        """Now and then, find events in the outbox this process does not hold: others appended them
        and their nudge never came, or a bridge before this one left them unconfirmed."""
        now = time.monotonic()
        if not force and now - self._last_scan < SWEEP_INTERVAL_S:
            return
        self._last_scan = now
        assert self._sessions is not None
        with self._reads() as session:
            heads = unpublished_heads(session)
        known = self._streams.known
        backlog = {v for v, seq in heads.items() if self._partition.owns(v) and seq > known.get(v, -1)}
        for video_id in backlog:
            self._sync(video_id)
        self._dirty.mark(backlog, recent=True, state=True, reactions=True, reload=True)

    def _ack(self, acks: Iterable[Received]) -> None:
        if self._client is None:
            return
        generation = self._generation
        # a mid means nothing on a newer connection; QoS 0 has nothing to ack
        self._client.ack_all([mid for mid, qos, _t, _p, gen in acks if gen == generation and qos == 1])

    def _connected(self) -> bool:
        return self._client is not None and self._subscribed and self._client.is_connected()

    def _take_pubacks(self) -> None:
        pubacks, streams = self._pubacks, self._streams
        events = batches = 0
        while pubacks:
            mid, at = pubacks.popleft()
            done = streams.acked(mid)
            if done is not None:  # else a retained message
                events += done.events
                batches += 1
                self.metrics.publish_seconds.observe(at - done.sent)
        if batches:
            self.metrics.events_published.inc(events)
            self.metrics.batches_published.inc(batches)

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
            window = self._windows.get(comment["video_id"])
            if window is None:
                continue  # loaded from the database (with this comment) when first published
            window.add(comment)
        for parent_id, count in result.reply_counts.items():
            for window in self._windows.values():
                window.bump_replies(parent_id, count)

    def _resync_targets(self) -> set[str]:
        """After (re)connecting: republish the backlog and every live video's retained topics."""
        assert self._sessions is not None
        with self._reads() as session:
            live = set(session.scalars(select(Video.id).where(Video.status == VideoStatus.LIVE)))
        self._windows.clear()  # rebuilt from the database: it is the source of truth
        return {v for v in live if self._partition.owns(v)}

    def _publish(self) -> None:
        self._wake_at = float("inf")
        if not self._connected():
            self._resync.set()  # publish it all once the broker is back
            return
        now = time.monotonic()
        streams, dirty = self._streams, self._dirty
        for video_id in set(dirty.videos()) | set(streams.queued):
            due = self._sent_at(self._events_sent, video_id) + EVENTS_INTERVAL_S
            if now < due and streams.has_queued(video_id):
                self._wake_at = min(self._wake_at, due)
                continue  # this video's viewers got a batch a moment ago: let the next one grow
            if not self._flush_events(video_id, now):
                self._wake_at = now + 0.1  # paho's queue is full: try again shortly
                return
            if video_id not in dirty:
                continue
            recent_at = self._sent_at(self._recent_sent, video_id) + RETAINED_INTERVAL_S
            reactions_at = self._sent_at(self._reactions_sent, video_id) + RETAINED_INTERVAL_S
            flags = dirty.take(video_id, recent_due=now >= recent_at, reactions_due=now >= reactions_at)
            if video_id in dirty:  # throttled views left for later
                self._wake_at = min([self._wake_at] + [t for t in (recent_at, reactions_at) if t > now])
            if not self._publish_retained(video_id, flags):
                dirty.mark({video_id}, **flags.as_marks())
                self._wake_at = now + 0.1
                return
            if flags.recent:
                self._recent_sent[video_id] = now
            if flags.reactions:
                self._reactions_sent[video_id] = now

    @staticmethod
    def _sent_at(table: dict[str, float], video_id: str) -> float:
        return table.get(video_id, float("-inf"))

    def _publish_retained(self, video_id: str, flags: Flags) -> bool:
        if flags.reload:
            self._windows.pop(video_id, None)  # a delete, approve or restore changed it: rebuild
        infos: list[paho.MQTTMessageInfo] = []
        if flags.recent or flags.reload:
            infos += self._retained_recent(video_id)
        if flags.state:
            infos += self._retained_state(video_id)
        if flags.reactions:
            infos += self._retained_reactions(video_id)
        return all(info.rc in QUEUED for info in infos)  # not waited for: a reconnect republishes them all

    def _flush_events(self, video_id: str, now: float) -> bool:
        """Hand the video's queued events to paho, in seq order, without waiting for the PUBACKs."""
        assert self._client is not None
        streams = self._streams
        topic = self.topics.comments(video_id)
        sent = False
        while events := streams.take(video_id):
            info = self._client.publish(topic, encode_raw_batch(video_id, [p for _s, p in events]), qos=1)
            if info.rc not in QUEUED:
                log.warning("paho did not take the batch for %s (%s); will retry", video_id, info.rc)
                streams.put_back(video_id, events)
                return False
            streams.sent(info.mid, video_id, events, time.perf_counter())
            sent = True
        if sent:
            self._events_sent[video_id] = now
        return True

    def _retain(self, topic: str, payload: bytes) -> paho.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=1, retain=True)

    def _retained_recent(self, video_id: str) -> list[paho.MQTTMessageInfo]:
        assert self._sessions is not None
        seq = self._streams.known.get(video_id)
        if seq is None or video_id not in self._windows:  # else the window is current: no query
            with self._reads() as session:
                window = self._window(session, video_id)
                seq = last_seq_of(session, video_id)
        else:
            window = self._windows[video_id]
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
        with self._reads() as session:
            state = video_state_of(session, video_id)
        if state is None:
            return []
        return [self._retain(self.topics.state(video_id), orjson.dumps(state))]

    def _retained_reactions(self, video_id: str) -> list[paho.MQTTMessageInfo]:
        assert self._sessions is not None
        with self._reads() as session:
            window = self._window(session, video_id)
            totals = video_reaction_totals(session, video_id)
            per_comment = reaction_totals(session, [c["id"] for c in window.comments()])
        return [self._retain(self.topics.reactions(video_id), encode_reactions(video_id, totals, per_comment))]
