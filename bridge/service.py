"""The bridge service: the single writer of live/.

Each batch of what arrived on ingest/ (plus what the sweeper finds stuck) is decided and
recorded in one transaction (set-based SQL, bridge.apply) on the committer's thread
(bridge.committer), while the bridge's thread decodes the next batch (bridge.inbox) and
publishes the last; the messages are acked only after their batch's commit. Events are
written to the `live_events` outbox in the same transaction that assigns their seq, encoded
once; the same bytes are published from memory (bridge.stream), pipelined: no step waits for
a PUBACK. A message's events are marked published, in the next transaction, once the broker
has confirmed it, so a crash anywhere leaves nothing lost: the next bridge finds what was not
confirmed in the outbox and publishes it again, in seq order (duplicates carry the same seq).
Across a reconnect of this process the bus itself sends the unconfirmed messages again, first
and in order; new ones wait for the subscription to be back, so each connection sees every
video's seq strictly increasing.

When each video's events and retained views may go is bridge.pacing's decision; the recent
windows the retained `recent` is built from are bridge.windows'. This module is the
orchestration: the loop, the bus's callbacks, and the queries each step needs. What it uses
(database, bus, cache, metrics, clock) comes in as BridgeDeps (bridge.deps), made by
wiring.bridge; it opens nothing itself and runs no migrations.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable

import orjson
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.apply import BatchResult, Outcome, Screened, apply_batch, prescreen
from bridge.bus import QUEUED, BusHandlers, IngestBus, Published
from bridge.committer import Committer, Job
from bridge.deps import BridgeDeps, LeaseLost
from bridge.dirty import DirtyVideos, Flags
from bridge.inbox import Inbox, Received
from bridge.lru import LruDict
from bridge.pacing import Pacer
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
from bridge.sample_feed import SampleFeeds
from bridge.stream import InFlight, Streams, encode_raw_batch
from bridge.windows import RecentWindows
from infra.db import read_only
from infra.reads import reaction_totals
from livecomments.config import Settings
from livecomments.models import Video, VideoStatus
from livecomments.validation import FieldError
from livecomments.wire import Submission, encode_reactions, encode_recent, ticker_text
from moderation.terms import TermMatcher

log = logging.getLogger("livecomments.bridge")

SWEEP_INTERVAL_S = 1.0
DB_RETRY_S = 0.5  # the database was unavailable: the next try waits this long
START_TIMEOUT_S = 60.0
# Videos whose blocked terms' matcher is kept for screening outside the transaction: a matcher takes
# ~7 KB for one term and ~1 MB for 200, so no more than moderation.screen keeps built (256); a video
# left out is screened inside its transaction, with the matcher its lock reads.
TERMS_HELD = 256


class Bridge:
    """A Service (livecomments.service): start() runs the loop on a thread of its own."""

    name = "bridge"

    def __init__(self, settings: Settings, deps: BridgeDeps) -> None:
        self.settings = settings
        self.deps = deps
        self.topics = settings.topics
        self.metrics = deps.metrics
        self._partition = settings.partition
        self._cache = deps.cache
        self._monotonic = deps.clock.monotonic
        self._wall_ms = deps.clock.wall_ms
        self._sessions = sessionmaker(deps.engine, expire_on_commit=False)
        self._reads = sessionmaker(read_only(deps.engine), expire_on_commit=False)
        self._handlers = BusHandlers(
            connected=self._on_connect, refused=self._on_refused, disconnected=self._on_disconnect,
            subscribed=self._on_subscribe, ingest=self._on_ingest, message=self._on_message,
            published=self._on_publish,
        )
        self._bus: IngestBus | None = None  # made when the loop starts
        self._inbox: deque[Received] = deque()
        self._wake = threading.Event()  # set when the inbox gets something
        self._retry: list[Received] = []
        self._pending_received: list[Received] = []  # gathered while the committer works on a batch
        self._pending = Inbox()  # and decoded
        self._screened: dict[str, Screened] = {}  # and their texts screened (bridge.apply.prescreen)
        # each video's blocked terms as its last transaction found them (a video left out is screened in its next one)
        self._terms: LruDict[str, TermMatcher] = LruDict(min(TERMS_HELD, settings.bridge_videos_held))
        self._committer = Committer(self._commit, self._wake)  # started in run()
        self._generation = 0
        self._resync = threading.Event()
        self._subscribed = False  # the ingest subscription is back: the bus has resent what was in flight
        self._streams = Streams(settings.bridge_videos_held)
        self._pubacks: deque[tuple[int, float]] = deque()  # (mid, when), from the bus's thread
        self._pacer = Pacer(self._monotonic, held=settings.bridge_videos_held)
        self._windows = RecentWindows(settings.recent_size, self._monotonic, held=settings.bridge_window_comments_held)
        self._dirty = DirtyVideos()
        self._samples = SampleFeeds(settings.sample_per_s, self.topics, self._wall_ms,  # live/videos/{v}/sample
                                    max_videos=settings.bridge_videos_held)
        self._last_sweep = float("-inf")
        self._last_scan = float("-inf")
        self.ready = threading.Event()  # the loop has run one round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()  # the loop's thread has ended
        self.failure: BaseException | None = None  # what ended the loop, if not stop()

    # -- the Service -----------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Run the loop on a thread of its own; return once it has run one round (the bus is
        connecting, the outbox has been read). Raises if it ended or did not get that far."""
        if self._thread is not None:
            raise RuntimeError("a Bridge starts once")
        self._stop.clear()  # a stop() before start() stopped nothing
        self._thread = threading.Thread(target=self._main, name="bridge", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.ready.is_set() and not self._ended.is_set():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bridge did not start within {timeout:g} s")
            self._ended.wait(0.05)
        if not self.ready.is_set() or self.failure is not None:
            raise RuntimeError("the bridge did not start") from self.failure

    def stop(self) -> None:
        """Stop the loop (the batch in flight is committed and acked first) and wait for it."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def is_connected(self) -> bool:
        """Connected to the broker and consuming ingest/."""
        return self._connected()

    def _main(self) -> None:
        try:
            self.run(self._stop)
        except LeaseLost as exc:  # another instance holds the partition now: nothing more is committed here
            self.failure = exc
            log.warning("the bridge of partition %s stopped: %s", self.settings.partition, exc)
        except BaseException as exc:  # noqa: BLE001 - kept for start() and is_alive(); logged here
            self.failure = exc
            log.exception("the bridge stopped on an error")
        finally:
            self._ended.set()

    # -- the loop --------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """The loop, on the caller's thread, until `stop` is set (start() runs it on a thread of its own)."""
        self._committer.start()
        bus = self._bus = self.deps.bus(self._handlers)
        bus.connect()
        serve = self.deps.serve_metrics
        stop_metrics = serve(self.metrics.registry) if serve is not None else None
        log.info("bridge started")
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
            bus.close()
            if stop_metrics is not None:
                stop_metrics()
            log.info("bridge stopped")

    # -- the bus's callbacks (its thread) --------------------------------------------

    def _on_connect(self) -> None:
        assert self._bus is not None
        self._generation += 1
        self._subscribed = False  # until SUBACK: the bus first sends again what was in flight, in order
        self._bus.subscribe(self.topics.ingest_filter)
        self._resync.set()
        log.info("connected to the broker; consuming %s", self.topics.ingest_filter)

    def _on_refused(self, reason: str) -> None:
        log.error("broker refused the bridge: %s", reason)

    def _on_disconnect(self, reason: str) -> None:
        log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_subscribe(self) -> None:
        self._subscribed = True

    def _on_ingest(self, mid: int, topic: bytes, payload: bytes) -> None:
        """A QoS 1 ingest message: queued as it came, nothing more here."""
        self._inbox.append((mid, 1, topic, payload, self._generation))
        if not self._wake.is_set():  # after the append: a drain that cleared it sees the message
            self._wake.set()

    def _on_message(self, mid: int, qos: int, topic: bytes, payload: bytes) -> None:
        """Anything else the bus delivers (a QoS 0 publish on ingest/)."""
        self._inbox.append((mid, qos, topic, payload, self._generation))
        if not self._wake.is_set():
            self._wake.set()

    def _on_publish(self, mid: int) -> None:
        self._pubacks.append((mid, time.perf_counter()))

    # -- the work ------------------------------------------------------------------

    def step(self, timeout: float) -> None:
        """One round: take what the committer finished (ack it, queue its events), gather and decode
        what arrived meanwhile, hand the next batch to the committer, publish what is due.

        The transaction of batch N runs on the committer's thread while this one decodes batch
        N+1 and publishes N-1's events. Batches are committed one after another, in the order
        they were handed over, and each one's messages are acked only after its commit."""
        self._take_pubacks()
        job = self._committer.take()
        if job is not None:
            self._complete(job)
        self._gather(0.0 if job is not None else self._pacer.wait(timeout))
        if not self._committer.busy:
            self._hand_over()
        if self._dirty or self._streams.queued:
            self._publish()
        else:
            self._pacer.idle()
        if self._samples:  # left-out counts waiting go out on their own; idle videos' samplers go
            self._samples.tick(self._monotonic(), self._bus.publish if self._bus and self._connected() else None)
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
        """The committer is idle: what touches the outbox bookkeeping runs now, then the next batch goes.
        If the database fails those reads, nothing of the batch was done: its messages are retried."""
        received, resync = self._pending_received, self._resync.is_set()
        try:
            self._read_and_hand_over()
        except OperationalError as exc:  # down or restarting: wait, and go on (a restart is not a crash)
            if not self.ready.is_set():
                raise  # it never worked for this bridge (no schema?): start() says so
            log.error("database unavailable (%s); will retry %d messages", exc, len(received))
            self.metrics.db_errors.inc()
            self._retry = received + self._retry
            if resync:
                self._resync.set()
            self._stop.wait(DB_RETRY_S)

    def _read_and_hand_over(self) -> None:
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
            self._stop.wait(DB_RETRY_S)
            return
        result, inbox = job.result, job.inbox
        assert result is not None
        self._count(result.outcomes, len(inbox.submissions))
        self.metrics.batch_size.observe(len(job.submissions))
        now = self._wall_ms()
        lag = self.metrics.ingest_lag
        for sub in inbox.submissions:
            lag.observe(max(0, now - sub.ts) / 1000)
        self._terms.put_all(result.terms)
        self._take_events(result)
        self._windows.take(result.approved, result.reply_counts)
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
        now = self._monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return []
        self._last_sweep = now
        cutoff = self._wall_ms() - int(self.settings.sweep_after_s * 1000)
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
        fence = self.deps.fence  # raises LeaseLost: this transaction is rolled back, the bridge stops
        try:
            with self._sessions.begin() as session:
                if fence is not None:
                    fence(session)
                self._write_marks(session, confirmed)
                for video_id, counts in reactions.items():
                    add_live_reactions(session, video_id, counts)
                return apply_batch(session, submissions, self._wall_ms(), known, screened)
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.exception("batch of %d failed; deciding one by one", len(submissions))
        merged = BatchResult()
        with self._sessions.begin() as session:
            if fence is not None:
                fence(session)
            self._write_marks(session, confirmed)
            for video_id, counts in reactions.items():
                add_live_reactions(session, video_id, counts)
        known = dict(known)
        for sub in submissions:
            try:
                with self._sessions.begin() as session:
                    if fence is not None:
                        fence(session)
                    one = apply_batch(session, [sub], self._wall_ms(), known, screened)
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
        with self._reads() as session:
            events = events_after(session, video_id, self._streams.known.get(video_id))
        self._streams.extend(video_id, events)

    def _scan_outbox(self, force: bool = False) -> None:
        """Now and then, find events in the outbox this process does not hold: others appended them
        and their nudge never came, or a bridge before this one left them unconfirmed. (At the same
        cadence, the recent windows of videos no longer in use are dropped, and the last seqs held
        brought back within their bound once the videos over it are idle.)"""
        now = self._monotonic()
        if not force and now - self._last_scan < SWEEP_INTERVAL_S:
            return
        self._last_scan = now
        self._windows.forget_idle(now)
        self._streams.trim()
        with self._reads() as session:
            heads = unpublished_heads(session)
        known = self._streams.known
        backlog = {v for v, seq in heads.items() if self._partition.owns(v) and seq > known.get(v, -1)}
        for video_id in backlog:
            self._sync(video_id)
        self._dirty.mark(backlog, recent=True, state=True, reactions=True, reload=True)

    def _ack(self, acks: Iterable[Received]) -> None:
        if self._bus is None:
            return
        generation = self._generation
        # a mid means nothing on a newer connection; QoS 0 has nothing to ack
        self._bus.ack_all([mid for mid, qos, _t, _p, gen in acks if gen == generation and qos == 1])

    def _connected(self) -> bool:
        return self._bus is not None and self._subscribed and self._bus.is_connected()

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
            size = self._windows.size
            window = self._windows.load(video_id, recent_comments(session, video_id, size))
        return window

    def _resync_targets(self) -> set[str]:
        """After (re)connecting: republish the backlog and every live video's retained topics."""
        with self._reads() as session:
            live = set(session.scalars(select(Video.id).where(Video.status == VideoStatus.LIVE)))
        self._windows.clear()  # rebuilt from the database: it is the source of truth
        return {v for v in live if self._partition.owns(v)}

    def _publish(self) -> None:
        pacer = self._pacer
        now = pacer.begin()
        if not self._connected():
            self._resync.set()  # publish it all once the broker is back
            return
        streams, dirty = self._streams, self._dirty
        for video_id in set(dirty.videos()) | set(streams.queued):
            if streams.has_queued(video_id) and not pacer.events_due(video_id, now):
                continue  # this video's viewers got a batch a moment ago: let the next one grow
            if not self._flush_events(video_id, now):
                pacer.retry_soon(now)  # the bus's queue is full
                return
            if video_id not in dirty:
                continue
            recent_due, reactions_due = pacer.retained_due(video_id, now)
            flags = dirty.take(video_id, recent_due=recent_due, reactions_due=reactions_due)
            if video_id in dirty:  # throttled views left for later
                pacer.retained_later(video_id, now)
            try:
                published = self._publish_retained(video_id, flags)
            except OperationalError as exc:  # a view could not be read: it goes later, like a full queue
                log.debug("database unavailable; the retained views of %s go later (%s)", video_id, exc)
                published = False
            if not published:
                dirty.mark({video_id}, **flags.as_marks())
                pacer.retry_soon(now)
                return
            pacer.retained_sent(video_id, now, recent=flags.recent, reactions=flags.reactions)

    def _publish_retained(self, video_id: str, flags: Flags) -> bool:
        if flags.reload:
            self._windows.drop(video_id)  # a delete, approve or restore changed it: rebuild
        infos: list[Published] = []
        if flags.recent or flags.reload:
            infos += self._retained_recent(video_id)
        if flags.state:
            infos += self._retained_state(video_id)
        if flags.reactions:
            infos += self._retained_reactions(video_id)
        return all(info.rc in QUEUED for info in infos)  # not waited for: a reconnect republishes them all

    def _flush_events(self, video_id: str, now: float) -> bool:
        """Hand the video's queued events to the bus, in seq order, without waiting for the PUBACKs."""
        assert self._bus is not None
        publish, streams = self._bus.publish, self._streams
        topic = self.topics.comments(video_id)
        sent = False
        while events := streams.take(video_id):
            info = publish(topic, encode_raw_batch(video_id, [p for _s, p in events]))
            if info.rc not in QUEUED:
                log.warning("the bus did not take the batch for %s (%s); will retry", video_id, info.rc)
                streams.put_back(video_id, events)
                return False
            streams.sent(info.mid, video_id, events, time.perf_counter())
            self._samples.batch(video_id, events, now, publish)
            sent = True
        if sent:
            self._pacer.events_sent(video_id, now)
        return True

    def _retain(self, topic: str, payload: bytes) -> Published:
        assert self._bus is not None
        return self._bus.publish(topic, payload, retain=True)

    def _retained_recent(self, video_id: str) -> list[Published]:
        seq = self._streams.known.get(video_id)
        window = self._windows.get(video_id) if seq is not None else None
        if seq is None or window is None:  # else the window is current: no query
            with self._reads() as session:
                window = self._window(session, video_id)
                seq = last_seq_of(session, video_id)
        comments = window.comments()
        infos = [self._retain(self.topics.recent(video_id), encode_recent(video_id, seq, comments))]
        if self._cache is not None:
            self._cache.put(video_id, seq, comments, complete=len(comments) < self.settings.recent_size)
        latest = window.latest()
        if latest is not None:
            ticker = ticker_text(latest["user"]["name"], latest["text"])
            infos.append(self._retain(self.topics.ticker(video_id), ticker))
        return infos

    def _retained_state(self, video_id: str) -> list[Published]:
        with self._reads() as session:
            state = video_state_of(session, video_id)
        if state is None:
            return []
        return [self._retain(self.topics.state(video_id), orjson.dumps(state))]

    def _retained_reactions(self, video_id: str) -> list[Published]:
        with self._reads() as session:
            window = self._window(session, video_id)
            totals = video_reaction_totals(session, video_id)
            per_comment = reaction_totals(session, [c["id"] for c in window.comments()])
        return [self._retain(self.topics.reactions(video_id), encode_reactions(video_id, totals, per_comment))]
