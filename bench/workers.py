"""Load-generator processes. Each runs its own asyncio loop, raises RLIMIT_NOFILE to the
hard limit, and talks to the coordinator over a multiprocessing pipe.

- `viewers`: many cheap MQTT viewers (TCP or WebSocket) that record which benchmark
  comments each one got, when, and how many messages and bytes per second it was sent;
  like the page, each takes the retained `recent`, keeps it for RECENT_GRACE_S, and unsubscribes.
- `posters`: post comments over HTTP (aiohttp) on an open-loop schedule; record the 202s.
- `bare_publisher`: the bare-broker phase: one plain message per comment, QoS 0.
- `ingest`: submissions straight onto ingest/, QoS 1, closed loop (as fast as it is taken).
- `bare_consumer`: a paho QoS 1 consumer, the bridge's bare counterpart.
- `joiners`: viewers that connect, subscribe and time the retained `recent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import random
import struct
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

import orjson

from bench import mqtt
from bench.conn import Endpoint, MqttConnection, open_mqtt, raise_nofile_limit
from bench.stats import KeySet, Phase, bench_text, bench_texts_of_batch, key_of, loss_of, second_of
from livecomments.presence import next_announcement_in

if TYPE_CHECKING:
    from ulid import ULID

    from livecomments.wire import Submission

log = logging.getLogger("bench.workers")

Pipe = multiprocessing.connection.Connection
Counter = Synchronized  # a multiprocessing.Value("q")

PING_EVERY_S = 45.0
PROGRESS_EVERY_S = 0.2
SNAPSHOT_WAIT_S = 1.5  # as webapp/static/subscriptions.js: no retained `recent` by then, none is waited for
RECENT_GRACE_S = 1.0  # as subscriptions.js RECENT_GRACE_MS: `recent` is kept this long after its first snapshot
UNSUBSCRIBE = 0xA2  # MQTT 3.1.1 UNSUBSCRIBE, with its reserved flags


def unsubscribe_packet(packet_id: int, topics: list[str]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(mqtt.encode_str(t) for t in topics)
    return bytes([UNSUBSCRIBE]) + mqtt.encode_length(len(body)) + body


def snapshot_leave_at(subscribed_ns: int, first_snapshot_ns: int | None = None) -> int:
    """When a viewer leaves its snapshot topics, as the page does: RECENT_GRACE_S after the first
    snapshot came, or after SNAPSHOT_WAIT_S without one, whichever is first (monotonic ns)."""
    start = subscribed_ns + int(SNAPSHOT_WAIT_S * 1e9)
    if first_snapshot_ns is not None:
        start = min(start, first_snapshot_ns)
    return start + int(RECENT_GRACE_S * 1e9)


def publish_size(body_length: int) -> int:
    """Bytes of a PUBLISH on the wire (MQTT, not counting WebSocket framing): fixed header and body."""
    if body_length < 128:
        return body_length + 2
    if body_length < 16_384:
        return body_length + 3
    return body_length + (4 if body_length < 2_097_152 else 5)


def _start(entry: Callable[..., None], *args: Any) -> tuple[multiprocessing.process.BaseProcess, Pipe]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=entry, args=(*args, child), daemon=True)
    proc.start()
    child.close()
    return proc, parent


@dataclass
class Worker:
    """The coordinator's handle on one load-generator process."""

    name: str
    proc: multiprocessing.process.BaseProcess
    pipe: Pipe
    progress: Any = None  # a shared multiprocessing.Value, where the worker has one

    @classmethod
    def spawn(cls, name: str, entry: Callable[..., None], config: Any, progress: Any = None) -> Worker:
        proc, pipe = _start(entry, config, progress)
        return cls(name, proc, pipe, progress)

    def send(self, message: Any) -> None:
        self.pipe.send(message)

    def recv(self, timeout: float) -> Any:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"{self.name}: no answer within {timeout:g} s")
        message = self.pipe.recv()
        if isinstance(message, tuple) and message and message[0] == "error":
            raise RuntimeError(f"{self.name} failed: {message[1]}")
        return message

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.pipe.send(("close",))
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


def new_counter() -> Any:
    return multiprocessing.get_context("spawn").Value("q", 0, lock=False)


def _main(coro_fn: Callable[[Pipe], Coroutine[Any, Any, None]], pipe: Pipe) -> None:
    """A worker process's body: an asyncio loop; any failure is reported over the pipe."""
    raise_nofile_limit()
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {os.getpid()} %(name)s: %(message)s")
    try:
        asyncio.run(coro_fn(pipe))
    except Exception as exc:  # noqa: BLE001 - tell the coordinator, whatever it was
        with contextlib.suppress(OSError):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


async def _recv(pipe: Pipe) -> Any:
    """The next message from the coordinator, without blocking the loop."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(pipe.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(pipe.fileno())
    return pipe.recv()


async def _gather_limited(coros: list[Coroutine[Any, Any, Any]], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Coroutine[Any, Any, Any]) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)


# --- viewers -----------------------------------------------------------------------------------


@dataclass
class ViewerConfig:
    index: int
    count: int
    endpoint: str
    topics: list[str]  # subscribed, QoS 0
    timed_topics: list[str]  # where benchmark comments arrive (event batches)
    origin_ns: int  # second 0 of the per-second message counts
    connect_concurrency: int = 64
    keepalive: int = 120
    # Topics with these last parts are left RECENT_GRACE_S after their first message (the retained
    # snapshot) or after SNAPSHOT_WAIT_S without one, as the page leaves `recent` (snapshot_leave_at).
    snapshot_leaves: tuple[str, ...] = ("recent",)
    # "presence/videos/{v}/": each viewer announces itself there (+ its client id) once subscribed,
    # then every 30 s ± 5 s, as the page does (bench.presence); None: silent viewers.
    presence: str | None = None


@dataclass
class ViewerState:
    keys: dict[int, KeySet] = field(default_factory=lambda: defaultdict(KeySet))
    per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    messages: int = 0
    by_topic: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bytes_total: int = 0  # every PUBLISH, as sent on the wire (MQTT framing included, WebSocket framing not)
    bytes_per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    batch_bytes: int = 0  # the comment batches (timed topics) among them
    batch_bytes_per_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    bytes_by_topic: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    holding: set[bytes] = field(default_factory=set)  # snapshot topics not left yet
    subscribed_ns: int | None = None  # when the SUBACK came (monotonic ns)
    first_snapshot_ns: int | None = None  # when the first snapshot came


class ViewerGroup:
    """The viewers of one process and what they saw."""

    def __init__(self, config: ViewerConfig) -> None:
        self.config = config
        self.timed = {t.encode() for t in config.timed_topics}
        self.snapshot_topics = {t.encode() for t in config.topics if t.rsplit("/", 1)[-1] in config.snapshot_leaves}
        self.latencies: dict[int, array[float]] = defaultdict(lambda: array("f"))
        self.received = 0  # benchmark comments, all viewers
        self._parsed: dict[bytes, list[tuple[int, int, int]]] = {}
        self.connections: list[MqttConnection] = []
        # How a leave is scheduled: (delay in s, callback); the running loop's call_later by default.
        self.call_later: Callable[[float, Callable[[], None]], object] | None = None
        self.announcements = 0  # presence announcements sent, all viewers

    def on_publish(self, conn: MqttConnection, packet: mqtt.Packet, now: int) -> None:
        state: ViewerState = conn.tag
        state.messages += 1
        second = (now - self.config.origin_ns) // 1_000_000_000
        state.per_second[second] += 1
        body = packet.body
        size = publish_size(len(body))
        topic = mqtt.publish_topic(body)
        name = topic.decode()
        state.by_topic[name] += 1
        state.bytes_total += size
        state.bytes_per_second[second] += size
        state.bytes_by_topic[name] += size
        if topic in state.holding:  # a snapshot: the first one starts the grace
            if state.first_snapshot_ns is None:
                state.first_snapshot_ns = now
                self.arm(conn, now)
            self.leave_due(conn, now)
        if topic not in self.timed:
            return
        state.batch_bytes += size
        state.batch_bytes_per_second[second] += size
        payload = body[2 + len(topic) + (2 if packet.flags & 0x06 else 0):]
        parsed = self._parsed.get(payload)
        if parsed is None:
            if len(self._parsed) > 4096:
                self._parsed.clear()
            parsed = self._parsed[payload] = bench_texts_of_batch(orjson.loads(payload))
        for phase, key, t_send in parsed:
            if state.keys[phase].add(key):
                self.received += 1
                if phase in (Phase.MEASURE, Phase.BARE):
                    self.latencies[phase].append((now - t_send) / 1e6)

    async def connect_one(self, n: int) -> float:
        started = time.monotonic()
        client_id = f"bench-v{self.config.index}-{n}-{os.getpid()}"
        conn = await open_mqtt(Endpoint(self.config.endpoint), client_id, self.on_publish,
                               keepalive=self.config.keepalive)
        conn.tag = ViewerState(holding=set(self.snapshot_topics))
        await conn.subscribe([(t, 0) for t in self.config.topics])
        self.connections.append(conn)
        self.subscribed(conn, time.monotonic_ns())
        if self.config.presence is not None:
            self.announce(conn, self.config.presence + client_id)
        return (time.monotonic() - started) * 1000

    def announce(self, conn: MqttConnection, topic: str) -> None:
        """Announce now, and again 30 s ± 5 s later while the connection lasts (QoS 0, empty)."""
        if conn.closed.done():
            return
        conn.send(mqtt.publish(topic, b""))
        self.announcements += 1
        later = self.call_later or asyncio.get_running_loop().call_later
        later(next_announcement_in(random.random), lambda: self.announce(conn, topic))

    def subscribed(self, conn: MqttConnection, now: int) -> None:
        """The SUBACK came at `now`: the wait for the snapshot starts."""
        conn.tag.subscribed_ns = now
        self.arm(conn, now)

    def leave_at(self, state: ViewerState) -> int | None:
        """When the snapshot topics are left (monotonic ns), or None: none held, or not subscribed."""
        if not state.holding or state.subscribed_ns is None:
            return None
        return snapshot_leave_at(state.subscribed_ns, state.first_snapshot_ns)

    def arm(self, conn: MqttConnection, now: int) -> None:
        """A timer for leave_at (again when it moved: the first snapshot came)."""
        at = self.leave_at(conn.tag)
        if at is None:
            return
        later = self.call_later or asyncio.get_running_loop().call_later
        later(max(0, at - now) / 1e9, lambda: self.on_timer(conn))

    def on_timer(self, conn: MqttConnection) -> None:
        now = time.monotonic_ns()
        self.leave_due(conn, now)
        self.arm(conn, now)  # a timer a moment early (the loop's clock): once more; nothing once left

    def leave_due(self, conn: MqttConnection, now: int) -> None:
        """Leave the snapshot topics if their time has come by `now`."""
        at = self.leave_at(conn.tag)
        if at is not None and now >= at:
            self.leave_all(conn)

    def leave(self, conn: MqttConnection, topic: bytes) -> None:
        """Unsubscribe from a snapshot topic (the UNSUBACK is not waited for)."""
        state: ViewerState = conn.tag
        state.holding.discard(topic)
        conn.send(unsubscribe_packet(conn.packet_id(), [topic.decode()]))

    def leave_all(self, conn: MqttConnection) -> None:
        for topic in list(conn.tag.holding):
            self.leave(conn, topic)

    def results(self, accepted: dict[int, list[int]]) -> dict[str, Any]:
        viewers = []
        for conn in self.connections:
            state: ViewerState = conn.tag
            viewers.append({
                "loss": {phase: loss_of(keys, state.keys[phase]) for phase, keys in accepted.items()},
                "per_second": dict(state.per_second),
                "messages": state.messages,
                "by_topic": dict(state.by_topic),
                "bytes": state.bytes_total,
                "bytes_per_second": dict(state.bytes_per_second),
                "batch_bytes": state.batch_bytes,
                "batch_bytes_per_second": dict(state.batch_bytes_per_second),
                "bytes_by_topic": dict(state.bytes_by_topic),
                "alive": not conn.closed.done(),
            })
        return {
            "viewers": viewers,
            "latencies": {phase: values.tobytes() for phase, values in self.latencies.items()},
        }


async def _viewers(config: ViewerConfig, progress: Any, pipe: Pipe) -> None:
    group = ViewerGroup(config)
    started = time.monotonic()
    outcomes = await _gather_limited([group.connect_one(n) for n in range(config.count)],
                                     config.connect_concurrency)
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    pipe.send(("ready", {
        "connected": len(group.connections),
        "failed": len(errors),
        "errors": sorted(set(errors))[:5],
        "connect_ms": [o for o in outcomes if isinstance(o, float)],
        "seconds": time.monotonic() - started,
    }))

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(PING_EVERY_S)
            for conn in group.connections:
                conn.ping()

    async def report_progress() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            progress.value = group.received

    tasks = [asyncio.create_task(keep_alive()), asyncio.create_task(report_progress())]
    try:
        while True:
            message = await _recv(pipe)
            if message[0] == "results":
                progress.value = group.received
                pipe.send(("results", group.results(message[1])))
            elif message[0] == "alive":
                pipe.send(("alive", sum(1 for c in group.connections if not c.closed.done())))
            elif message[0] == "close":
                break
    finally:
        for task in tasks:
            task.cancel()
        for conn in group.connections:
            conn.close()
        await asyncio.sleep(0.2)


def viewers(config: ViewerConfig, progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _viewers(config, progress, p), pipe)


# --- posting over HTTP ---------------------------------------------------------------------------


@dataclass
class PosterConfig:
    index: int
    workers: int
    http: str
    video_id: str
    tokens: list[str]
    schedule: list[tuple[int, float, float]]  # (phase, seconds, this worker's comments/s)
    start_ns: int  # time.monotonic_ns() at which to begin
    max_in_flight: int = 1000
    timeout_s: float = 30.0
    connections: int = 64


@dataclass
class PostRecord:
    phase: int
    key: int
    status: int  # HTTP status, or -1 if there was no answer
    id: str
    t_send_ns: int
    t_done_ns: int


async def _posters(config: PosterConfig, pipe: Pipe) -> None:
    import aiohttp

    url = f"{config.http}/api/videos/{config.video_id}/comments"
    records: list[tuple[int, int, int, str, int, int]] = []
    errors: dict[str, int] = defaultdict(int)
    in_flight = 0
    room = asyncio.Event()
    room.set()
    max_lag_ns = 0
    late = 0
    skipped: dict[int, int] = {}
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=config.connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(phase: int, key: int, token: str) -> None:
            nonlocal in_flight
            t_send = time.monotonic_ns()
            body = orjson.dumps({"text": bench_text(phase, key, t_send)})
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-{key}"}
            status, cid = -1, ""
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    status = response.status
                    data = await response.read()
                    if status == 202:
                        cid = str(orjson.loads(data).get("id", ""))
                    else:
                        errors[f"HTTP {status}"] += 1
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                errors[type(exc).__name__] += 1
            records.append((phase, key, status, cid, t_send, time.monotonic_ns()))
            in_flight -= 1
            if in_flight < config.max_in_flight:
                room.set()

        pipe.send(("ready", {}))
        n = 0
        t_phase = config.start_ns
        delay = (t_phase - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        for phase, seconds, rate in config.schedule:
            total = int(round(seconds * rate))
            phase_end = t_phase + int(seconds * 1e9)
            for j in range(total):
                due = t_phase + int(j * 1e9 / rate)
                now = time.monotonic_ns()
                if now >= phase_end:  # the system held us back (in-flight cap): what was not sent is not sent
                    skipped[phase] = skipped.get(phase, 0) + total - j
                    break
                if due > now:
                    await asyncio.sleep((due - now) / 1e9)
                else:
                    lag = now - due
                    max_lag_ns = max(max_lag_ns, lag)
                    late += lag > 10_000_000
                while in_flight >= config.max_in_flight:
                    room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(room.wait(), max(0.001, (phase_end - time.monotonic_ns()) / 1e9))
                    if time.monotonic_ns() >= phase_end:
                        break
                if time.monotonic_ns() >= phase_end:
                    skipped[phase] = skipped.get(phase, 0) + total - j
                    break
                in_flight += 1
                key = key_of(config.index, n, config.workers)
                task = asyncio.create_task(post(phase, key, config.tokens[n % len(config.tokens)]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            t_phase += int(seconds * 1e9)
        while tasks:
            await asyncio.gather(*list(tasks))
    pipe.send(("results", {"records": records, "errors": dict(errors), "max_lag_ms": max_lag_ns / 1e6,
                           "late_over_10ms": late, "not_sent": skipped}))
    await _recv(pipe)


def posters(config: PosterConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _posters(config, p), pipe)


# --- the bare broker: one plain message per comment -----------------------------------------------


def bare_payload(phase: int, key: int, t_send_ns: int, video_id: str = "bench-bare") -> bytes:
    """An event batch of one comment, shaped and sized like the bridge's (`ts` in ms since the epoch)."""
    comment = {
        "id": f"{key:026d}"[-26:], "video_id": video_id, "seq": key + 1, "parent_id": None,
        "user": {"id": f"u{key % 10_000}", "name": f"User {key % 10_000}"},
        "text": bench_text(phase, key, t_send_ns), "ts": time.time_ns() // 1_000_000, "reply_count": 0, "reactions": {},
    }
    return orjson.dumps({"video_id": video_id, "events": [{"type": "comment", "seq": key + 1, "comment": comment}]})


@dataclass
class PublisherConfig:
    endpoint: str
    username: str
    password: str
    topic: str
    rate: float
    seconds: float
    start_ns: int
    phase: int = Phase.BARE
    first_key: int = 0


async def _bare_publisher(config: PublisherConfig, pipe: Pipe) -> None:
    conn = await open_mqtt(Endpoint(config.endpoint), f"bench-pub-{os.getpid()}", None,
                           username=config.username, password=config.password)
    pipe.send(("ready", {}))
    total = int(round(config.rate * config.seconds))
    delay = (config.start_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
    start = time.monotonic_ns()
    keys: list[int] = []
    max_lag_ns = 0
    j = 0
    while j < total:
        now = time.monotonic_ns()
        due_count = min(total, int((now - start) * config.rate / 1e9) + 1)
        if due_count <= j:
            await asyncio.sleep((start + j * 1e9 / config.rate - now) / 1e9)
            continue
        max_lag_ns = max(max_lag_ns, now - int(start + j * 1e9 / config.rate))
        while j < due_count:
            key = config.first_key + j
            conn.send(mqtt.publish(config.topic, bare_payload(config.phase, key, time.monotonic_ns())))
            keys.append(key)
            j += 1
        if conn.write_buffer > 4 << 20:
            await asyncio.sleep(0.001)  # let the socket drain; lateness shows in max_lag_ms
    await asyncio.sleep(0.2)
    conn.close()
    pipe.send(("results", {"keys": keys, "max_lag_ms": max_lag_ns / 1e6}))
    await _recv(pipe)


def bare_publisher(config: PublisherConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _bare_publisher(config, p), pipe)


# --- ingest straight to the broker (the bridge alone) ------------------------------------------------


@dataclass
class IngestConfig:
    endpoint: str
    username: str
    password: str
    topic: str  # where submissions go
    video_id: str
    observe_topic: str | None  # live/ topic to count approved comments on (None: use `consumed`)
    schedule: list[tuple[int, float]]  # (phase, seconds)
    window: int = 2000  # submissions published but not yet seen on the far side
    burst: int = 100


@functools.cache
def _wire_types() -> tuple[type[ULID], type[Submission]]:
    """Imported on first use, once (livecomments.wire brings SQLAlchemy along)."""
    from ulid import ULID

    from livecomments.wire import Submission

    return ULID, Submission


def ingest_submission(video_id: str, phase: int, key: int, t_send_ns: int) -> Submission:
    """One submission as the web app hands it over: `ts` as the contract has it, ms since the Unix
    epoch (the bridge's ingest lag compares it with its wall clock); the text carries the monotonic
    send time, for this worker's own ingest → live latency on one clock."""
    ULID, Submission = _wire_types()  # noqa: N806 - the classes
    return Submission(str(ULID()), video_id, f"u{key % 5000}", f"User {key % 5000}",
                      bench_text(phase, key, t_send_ns), None, time.time_ns() // 1_000_000)


async def _ingest(config: IngestConfig, consumed: Any, pipe: Pipe) -> None:
    endpoint = Endpoint(config.endpoint)
    seen = KeySet()
    latencies: dict[int, array[float]] = defaultdict(lambda: array("f"))
    arrived = asyncio.Event()
    by_second: dict[int, int] = defaultdict(int)
    origin = time.monotonic_ns()

    def on_publish(_conn: MqttConnection, packet: mqtt.Packet, now: int) -> None:
        body = packet.body
        topic = mqtt.publish_topic(body)
        payload = body[2 + len(topic) + (2 if packet.flags & 0x06 else 0):]
        for phase, key, t_send in bench_texts_of_batch(orjson.loads(payload)):
            if seen.add(key):
                by_second[(now - origin) // 1_000_000_000] += 1
                if phase == Phase.MEASURE:
                    latencies[phase].append((now - t_send) / 1e6)
        arrived.set()

    observer = None
    if config.observe_topic is not None:
        observer = await open_mqtt(endpoint, f"bench-obs-{os.getpid()}", on_publish)
        await observer.subscribe([(config.observe_topic, 0)])
    publisher = await open_mqtt(endpoint, f"bench-ingest-{os.getpid()}", None,
                                username=config.username, password=config.password)
    acked = 0

    def on_puback(_packet_id: int) -> None:
        nonlocal acked
        acked += 1

    publisher.on_puback = on_puback

    def done() -> int:
        return len(seen) if observer is not None else int(consumed.value)

    pipe.send(("ready", {}))
    await _recv(pipe)  # "go"
    sent = 0
    phases = []
    for phase, seconds in config.schedule:
        t0 = time.monotonic_ns()
        end = t0 + int(seconds * 1e9)
        first_sent, first_done = sent, done()
        while time.monotonic_ns() < end:
            room = config.window - (sent - done())
            if room <= 0:
                arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(arrived.wait(), 0.002 if observer is None else 0.05)
                continue
            for _ in range(min(room, config.burst)):
                sub = ingest_submission(config.video_id, phase, sent, time.monotonic_ns())
                publisher.send(mqtt.publish(config.topic, sub.to_json(), 1, packet_id=publisher.packet_id()))
                sent += 1
            await asyncio.sleep(0)
        phases.append({"phase": phase, "seconds": (time.monotonic_ns() - t0) / 1e9,
                       "sent": sent - first_sent, "done": done() - first_done})
    drain_until = time.monotonic() + 30
    while done() < sent and time.monotonic() < drain_until:
        await asyncio.sleep(0.05)
    publisher.close()
    if observer is not None:
        observer.close()
    pipe.send(("results", {
        "phases": phases, "sent": sent, "acked": acked, "done": done(),
        "latencies": {p: v.tobytes() for p, v in latencies.items()},
        "per_second": dict(by_second),
    }))
    await _recv(pipe)


def ingest(config: IngestConfig, consumed: Any, pipe: Pipe) -> None:
    _main(lambda p: _ingest(config, consumed, p), pipe)


@dataclass
class ConsumerConfig:
    host: str
    port: int
    username: str
    password: str
    topic: str


def bare_consumer(config: ConsumerConfig, consumed: Any, pipe: Pipe) -> None:
    """paho, QoS 1, acked by hand after each message: the bridge's consumer with no work."""
    from infra.mqtt_client import BrokerAddress, make_client

    raise_nofile_limit()
    client = make_client(f"bench-bare-consumer-{os.getpid()}", BrokerAddress(
        config.host, config.port, config.username, config.password), manual_ack=True)
    subscribed = threading.Event()

    def on_connect(c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        c.subscribe(config.topic, qos=1)

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(c: Any, _u: Any, message: Any) -> None:
        c.ack(message.mid, message.qos)
        consumed.value += 1

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(config.host, config.port)
    client.loop_start()
    try:
        if not subscribed.wait(15):
            pipe.send(("error", "the bare consumer was not subscribed within 15 s"))
            return
        pipe.send(("ready", {}))
        while True:
            message = pipe.recv()
            if message[0] == "close":
                break
    finally:
        client.disconnect()
        client.loop_stop()


# --- joining viewers ---------------------------------------------------------------------------


@dataclass
class JoinConfig:
    index: int
    endpoint: str
    topics: list[str]
    recent_topic: str
    joins: int
    concurrency: int
    every_s: float  # start one join this often (per process)


async def _joiners(config: JoinConfig, pipe: Pipe) -> None:
    endpoint = Endpoint(config.endpoint)
    recent = config.recent_topic.encode()

    async def one(n: int) -> dict[str, Any]:
        got: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

        def on_publish(_c: MqttConnection, packet: mqtt.Packet, now: int) -> None:
            body = packet.body
            topic = mqtt.publish_topic(body)
            if topic == recent and not got.done():
                payload = body[2 + len(topic) + (2 if packet.flags & 0x06 else 0):]
                got.set_result((now, len(orjson.loads(payload).get("comments", []))))

        t0 = time.monotonic_ns()
        conn = await open_mqtt(endpoint, f"bench-join-{config.index}-{n}-{os.getpid()}", on_publish)
        t_connected = time.monotonic_ns()
        try:
            suback = conn.subscribe_nowait([(t, 0) for t in config.topics])
            t_sub = time.monotonic_ns()
            await asyncio.wait_for(suback, 10)
            t_suback = time.monotonic_ns()
            t_recent, comments = await asyncio.wait_for(got, 10)
        finally:
            conn.close()
        return {"connect_ms": (t_connected - t0) / 1e6, "suback_ms": (t_suback - t_sub) / 1e6,
                "recent_ms": (t_recent - t_sub) / 1e6, "comments": comments}

    pipe.send(("ready", {}))
    await _recv(pipe)  # "go"
    semaphore = asyncio.Semaphore(config.concurrency)
    results: list[Any] = []

    async def paced(n: int) -> None:
        async with semaphore:
            try:
                results.append(await one(n))
            except (TimeoutError, OSError, RuntimeError) as exc:
                results.append({"error": f"{type(exc).__name__}: {exc}"})

    tasks = []
    for n in range(config.joins):
        tasks.append(asyncio.create_task(paced(n)))
        await asyncio.sleep(config.every_s)
    await asyncio.gather(*tasks)
    pipe.send(("results", results))
    await _recv(pipe)


def joiners(config: JoinConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _joiners(config, p), pipe)


def floats(raw: bytes) -> array[float]:
    values = array("f")
    values.frombytes(raw)
    return values


__all__ = ["Worker", "bare_payload", "floats", "new_counter", "second_of"]
