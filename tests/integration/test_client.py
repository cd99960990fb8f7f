"""The client library, `livecomments watch` and the examples, against a real system:
amqtt broker, bridge and web app processes on free ports, real paho, real HTTP.
A small TCP proxy in front of the broker cuts clients off and lets them back.

One system (on SQLite) serves every test of the module: each test has a video of its own (seqs,
history, pins, deletes, retained topics and users' limits are per video) and a proxy of its own,
and none stops, restarts or reconfigures a process of the system."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion
from ulid import ULID

from infra.credentials import ensure_credentials
from infra.ports import free_port
from livecomments.wire import Submission, submissions_to_json
from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import ROOT, Stack
from tests.support.system import start_system
from tests.support.waiting import eventually
from viewer import BrokerURL, Event, EventType, LiveClient, Source
from viewer.client import RECENT_GRACE_S, mask_every_frame, recent_leave_at
from viewer.sampled import SKIPPED
from viewer.watch import Renderer, default_broker, default_http, safe, use_colour
from wiring.cli import build_parser

FAST = {"backoff_base": 0.05, "backoff_cap": 0.5}  # reconnect quickly in tests


# -- harness ---------------------------------------------------------------------------


def new_video_id() -> str:
    return f"v-{uuid.uuid4().hex[:12]}"


@dataclass
class System:
    """The module's system as one test sees it: `video` is the test's own (created for it)."""

    stack: Stack
    api: Api
    video: str

    @property
    def mqtt(self) -> str:
        return f"mqtt://127.0.0.1:{self.stack.mqtt_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.stack.ws_port}/mqtt"

    @property
    def http(self) -> str:
        return self.api.base

    def new_video(self) -> str:
        """Another video of the test's own, just created (no comment, no retained topic yet)."""
        video = new_video_id()
        r = self.api.create_video(video)
        assert r.status_code == 201, r.text
        return video

    def post(self, text: str, user: str = "alice", parent_id: str | None = None, video: str | None = None) -> str:
        r = self.api.post(video or self.video, text, user=user, parent_id=parent_id)
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def approved(self, comment_id: str, timeout: float = 30.0) -> str:
        """Wait until the bridge approved (and numbered) the comment: a reply needs an approved parent."""
        eventually(lambda: self.api.comment(comment_id).json().get("status") == "approved", timeout,
                   f"comment {comment_id} never approved")
        return comment_id

    def moderate(self, method: str, path: str, user: str = "mod", **body: str) -> None:
        token = self.api.token(user, roles=("moderator",) if user == "mod" else ())
        r = requests.request(method, f"{self.api.base}{path}", json=body or None,
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 204, r.text

    def delete(self, comment_id: str, user: str = "mod") -> None:
        self.moderate("DELETE", f"/api/comments/{comment_id}", user)

    def pin(self, comment_id: str, video: str | None = None) -> None:
        self.moderate("PUT", f"/api/videos/{video or self.video}/pin", comment_id=comment_id)

    def unpin(self, video: str | None = None) -> None:
        self.moderate("DELETE", f"/api/videos/{video or self.video}/pin")


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Broker, bridge and web app for every test of the module, on SQLite only (the module's tests
    are about the client, not the database: `shared_system` would run them twice). The bridge is up,
    its schema in place, before the web app starts: no SQLite start-up race."""
    stack = Stack.on_free_ports(tmp_path_factory.mktemp("client") / "data")
    try:
        start_system(stack).close()  # the test process's own database connections are not needed
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture
def system(module_stack: Stack) -> System:
    """The module's system with a video of the test's own."""
    api = Api(f"http://127.0.0.1:{module_stack.http_port}", module_stack.secret)
    video = new_video_id()
    r = api.create_video(video)
    assert r.status_code == 201, r.text
    return System(module_stack, api, video)


class Recorder:
    """An `on_event` callback that keeps what it gets and lets a test wait on it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def comments(self) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.type == EventType.COMMENT]

    def ids(self) -> list[str | None]:
        return [e.id for e in self.comments()]

    def of(self, kind: str) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.type == kind]

    def wait_for(self, check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}; got {[(e.type, e.seq, e.source.value) for e in self.events]}")
                self._cond.wait(min(left, 0.05))  # some conditions change without an event


class Proxy:
    """A TCP forwarder in front of the broker. `down()` drops every connection through it
    and turns new ones away (accepted, then closed at once); `up()` lets them through again."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._up:
                    downstream.close()
                    continue
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                except OSError:
                    downstream.close()
                    continue
                upstream.settimeout(None)
                self._open += [downstream, upstream]
            threading.Thread(target=self._pump, args=(downstream, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _shut(s)

    def down(self) -> None:
        with self._lock:
            self._up = False
            cut, self._open = self._open, []
        for s in cut:
            _shut(s)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.down()
        self._listener.close()


def _shut(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def proxy(system: System) -> Iterator[Proxy]:
    p = Proxy(system.stack.mqtt_port)
    yield p
    p.close()


def take(events: Iterator[Event], n: int) -> list[Event]:
    """The next n comments from an events() iterator (other events skipped)."""
    got: list[Event] = []
    for event in events:
        if event.type == EventType.COMMENT:
            got.append(event)
            if len(got) == n:
                return got
    raise AssertionError(f"the iterator ended after {len(got)} of {n} comments")


def wait_published(system: System, seq: int, video: str | None = None) -> None:
    """Until the bridge has published up to `seq` on the test's video (its retained `recent` says so)."""
    topic = f"live/videos/{video or system.video}/recent"
    watcher = Collector(system.stack.mqtt_port, topic)
    try:
        watcher.wait_for(lambda _m: any(m.json()["seq"] >= seq for m in watcher.on(topic)))
    finally:
        watcher.close()


def assert_exactly_once_in_order(events: list[Event], ids: list[str]) -> None:
    got = [e.id for e in events]
    assert got == ids, f"want {ids}, got {got}"
    seqs = [e.seq for e in events]
    assert all(a is not None and b is not None and a < b for a, b in zip(seqs, seqs[1:], strict=False)), seqs


# -- the client against a real system ---------------------------------------------------------


def test_recent_seeds_the_view_then_live_events_follow_in_order(system: System) -> None:
    before = [system.post(f"before {i}") for i in range(3)]
    wait_published(system, 3)
    with LiveClient(system.video, [system.mqtt], http=system.http, **FAST) as client:
        events = client.events(timeout=15)
        seeded = take(events, 3)
        assert [e.id for e in seeded] == before
        assert [e.source for e in seeded] == [Source.RECENT] * 3
        parent = system.approved(system.post("a question"))
        reply = system.post("an answer", user="bob", parent_id=parent)
        live = take(events, 2)
    assert_exactly_once_in_order(seeded + live, [*before, parent, reply])
    assert [e.source for e in live] == [Source.LIVE] * 2
    assert [e.seq for e in live] == [4, 5]
    assert live[1].is_reply and live[1].comment is not None and live[1].comment["parent_id"] == parent
    assert live[1].comment["user"] == {"id": "bob", "name": "Bob"}
    assert client.stats.history_requests == 0  # nothing was missed, nothing fetched


@dataclass
class Connection:
    """What one of a client's connections did with `recent`, timed on its network thread."""

    recent: list[float]  # when each `recent` arrived
    left: float | None = None  # when it unsubscribed from `recent`
    after_left: int = 0  # `recent` messages that arrived after that (in flight meanwhile)


def watch_recent(client: LiveClient) -> list[Connection]:
    """Record, per connection, when `recent` came and when the client left it."""
    connections: list[Connection] = []
    make = client._paho_client
    recent = f"live/videos/{client.video_id}/recent"

    def instrumented(broker: BrokerURL, state: dict[str, object]) -> paho.Client:
        c = make(broker, state)
        conn = Connection([])
        connections.append(conn)
        on_message, unsubscribe = c.on_message, c.unsubscribe

        def timed_message(cl: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
            if msg.topic == recent:
                if conn.left is None:
                    conn.recent.append(time.monotonic())
                else:
                    conn.after_left += 1
            assert on_message is not None
            on_message(cl, userdata, msg)

        def timed_unsubscribe(topic: str, *args: object, **kwargs: object) -> object:
            if topic == recent and conn.left is None:
                conn.left = time.monotonic()
            return unsubscribe(topic, *args, **kwargs)  # type: ignore[arg-type]

        c.on_message = timed_message
        c.unsubscribe = timed_unsubscribe  # type: ignore[method-assign]
        return c

    client._paho_client = instrumented  # type: ignore[method-assign]
    return connections


def test_recent_is_taken_once_per_connection_then_left(system: System, proxy: Proxy) -> None:
    """The bridge republishes `recent` after every batch; the client takes the retained snapshot,
    keeps the topic for RECENT_GRACE_S (a fresher one may follow), and unsubscribes, so it gets
    only those of each connection's grace, however many comments follow."""
    before = [system.post(f"before {i}") for i in range(3)]
    wait_published(system, 3)
    rec = Recorder()
    client = LiveClient(system.video, [f"mqtt://127.0.0.1:{proxy.port}"], http=system.http, on_event=rec, **FAST)
    connections = watch_recent(client)
    snapshots: list[bytes] = []  # what reached the worker on `recent`
    handle = client._on_message

    def counting(topic: str, payload: bytes) -> None:
        if topic == f"live/videos/{system.video}/recent":
            snapshots.append(payload)
        handle(topic, payload)

    def left_after_the_grace(n: int) -> int:
        """Waits until connection `n` left `recent`; checks it kept it for the grace; the count taken."""
        rec.wait_for(lambda: len(connections) > n and connections[n].left is not None, what=f"leaving recent ({n})")
        conn = connections[n]
        assert conn.recent, "the retained snapshot came"
        assert conn.left is not None and conn.left - conn.recent[0] >= RECENT_GRACE_S, "kept for the grace"
        return len(conn.recent)

    client._on_message = counting  # type: ignore[method-assign]
    with client:
        rec.wait_for(lambda: rec.ids() == before, what="the snapshot")
        taken = left_after_the_grace(0)
        time.sleep(0.2)  # the UNSUBSCRIBE on its way
        live = []
        for i in range(4):  # one at a time: a `recent` is republished after each
            live.append(system.post(f"live {i}"))
            rec.wait_for(lambda: rec.ids()[-1:] == live[-1:], what=f"live {i}")
            wait_published(system, 4 + i)
        time.sleep(0.3)  # what the broker sent wait_published's subscriber, it sent the client too
        assert len(snapshots) == taken, f"no `recent` after the grace, got {len(snapshots)} for {taken}"
        assert connections[0].after_left == 0

        proxy.down()  # a new connection takes a fresh snapshot, and leaves it again after the grace
        proxy.up()
        rec.wait_for(lambda: client.stats.connections >= 2, what="the second connection")
        taken += left_after_the_grace(1)
        time.sleep(0.2)
        after = system.post("after the reconnect")
        rec.wait_for(lambda: after in rec.ids(), what="the comment after the reconnect")
        wait_published(system, 8)
        time.sleep(0.3)
        assert len(snapshots) == taken, "no `recent` after the second grace either"
        assert connections[1].after_left == 0
    assert client.stats.recent_messages == taken
    assert_exactly_once_in_order(rec.comments(), [*before, *live, after])


def test_a_video_without_recent_is_seeded_from_history(system: System) -> None:
    quiet = system.new_video()  # no comment yet: no retained recent
    rec = Recorder()
    with LiveClient(quiet, [system.mqtt], http=system.http, on_event=rec, seed_timeout=0.3, **FAST) as client:
        assert client.wait_connected(10)
        rec.wait_for(lambda: client.last_seq == 0, what="seeded from HTTP")
        first = system.post("the first word", video=quiet)
        rec.wait_for(lambda: rec.ids() == [first], what="the first comment")
    assert rec.comments()[0].seq == 1


def test_a_dropped_connection_is_backfilled_exactly_once_in_order(system: System, proxy: Proxy) -> None:
    rec = Recorder()
    client = LiveClient(system.video, [f"mqtt://127.0.0.1:{proxy.port}"], http=system.http, on_event=rec, **FAST)
    with client:
        assert client.wait_connected(10)
        first = system.post("before the cut")
        rec.wait_for(lambda: rec.ids() == [first], what="the first comment, live")

        proxy.down()
        rec.wait_for(lambda: bool(rec.of(EventType.DISCONNECTED)), what="the client noticing the cut")
        parent = system.approved(system.post("while cut off 1"))
        missed = [parent, system.post("while cut off 2", user="bob", parent_id=parent)]
        missed += [system.post(f"while cut off {i}", user="carol") for i in range(3, 6)]
        wait_published(system, 6)  # gone out live while the client was away
        assert rec.ids() == [first]

        proxy.up()
        rec.wait_for(lambda: len(rec.comments()) >= 6, what="the missed comments")
        after = system.post("after the cut")
        rec.wait_for(lambda: after in rec.ids(), what="the next live comment")

    assert_exactly_once_in_order(rec.comments(), [first, *missed, after])
    assert [e.seq for e in rec.comments()] == list(range(1, 8))
    by_id = {e.id: e for e in rec.comments()}
    assert [by_id[i].source for i in missed] == [Source.HISTORY] * 5  # repaired from HTTP history
    assert by_id[missed[1]].is_reply
    assert by_id[after].source is Source.LIVE
    assert client.stats.connections >= 2 and client.stats.history_requests >= 1
    assert [e.type for e in rec.events if e.type in (EventType.CONNECTED, EventType.DISCONNECTED)][:3] == [
        EventType.CONNECTED, EventType.DISCONNECTED, EventType.CONNECTED,
    ]


def test_a_delete_missed_during_a_cut_does_not_stall_the_stream(system: System, proxy: Proxy) -> None:
    # History has comments only: the delete event (and the comment it removed) cannot be
    # fetched. The client skips those seqs instead of waiting for them.
    rec = Recorder()
    with LiveClient(system.video, [f"mqtt://127.0.0.1:{proxy.port}"], http=system.http, on_event=rec, **FAST) as client:
        assert client.wait_connected(10)
        first = system.post("before the cut")
        rec.wait_for(lambda: rec.ids() == [first], what="the first comment")
        proxy.down()
        rec.wait_for(lambda: bool(rec.of(EventType.DISCONNECTED)), what="the client noticing the cut")
        gone = system.approved(system.post("posted and deleted while cut off"))  # seq 2
        kept = system.approved(system.post("kept", user="bob"))  # seq 3
        system.delete(gone)  # seq 4: a delete event
        wait_published(system, 4)
        proxy.up()
        rec.wait_for(lambda: kept in rec.ids(), what="the comment that is left")
        after = system.post("after the cut")  # seq 5
        rec.wait_for(lambda: after in rec.ids(), what="the next live comment")
    assert_exactly_once_in_order(rec.comments(), [first, kept, after])
    assert [e.seq for e in rec.comments()] == [1, 3, 5]
    assert client.last_seq == 5


def test_without_history_a_gap_is_skipped_after_gap_timeout(system: System, proxy: Proxy) -> None:
    rec = Recorder()
    no_history = f"http://127.0.0.1:{free_port()}"  # the web app is unreachable for this client
    client = LiveClient(system.video, [f"mqtt://127.0.0.1:{proxy.port}"], http=no_history, on_event=rec,
                        gap_timeout=1.0, seed_timeout=0.2, **FAST)
    with client:
        assert client.wait_connected(10)
        first = system.post("seeds the view")  # no recent, no history: it starts at the first event
        rec.wait_for(lambda: rec.ids() == [first], what="the first comment")
        proxy.down()
        rec.wait_for(lambda: bool(rec.of(EventType.DISCONNECTED)), what="the client noticing the cut")
        system.post("lost for this client")
        wait_published(system, 2)
        proxy.up()
        rec.wait_for(lambda: client.stats.connections >= 2, what="reconnected")
        after = system.post("after the cut")
        rec.wait_for(lambda: after in rec.ids(), what="the stream going on without the lost comment")
    assert rec.ids() == [first, after]
    assert [e.seq for e in rec.comments()] == [1, 3] and client.last_seq == 3


def burst(system: System, count: int) -> list[str]:
    """`count` comments in one ingest message (as the web app packs a busy moment), all with one ts."""
    password = ensure_credentials(system.stack.data_dir).passwords["webapp"]
    ts = time.time_ns() // 1_000_000
    subs = [Submission(str(ULID()), system.video, f"u{i}", f"User {i}", f"burst {i}", None, ts)
            for i in range(count)]
    producer = paho.Client(CallbackAPIVersion.VERSION2)
    producer.username_pw_set("webapp", password)
    producer.connect("127.0.0.1", system.stack.mqtt_port)
    producer.loop_start()
    try:
        topic = f"ingest/videos/{system.video}/comments"
        producer.publish(topic, submissions_to_json(subs), qos=1).wait_for_publish(10)
    finally:
        producer.disconnect()
        producer.loop_stop()
    return [s.id for s in subs]


def test_the_client_and_watch_follow_the_sample(system: System, tmp_path: Path) -> None:
    rec = Recorder()
    watch = spawn(["-m", "livecomments", "watch", system.video, "--sample"], system.stack.env, tmp_path / "watch.err")
    try:
        with LiveClient(system.video, [system.mqtt], system.http, on_event=rec, sample=True, **FAST) as client:
            assert client.wait_connected(20)
            eventually(lambda: "connected to" in (tmp_path / "watch.err").read_text(), 20, "watch never connected")
            ids = burst(system, 12)  # 12 comments in the same millisecond: the default cap keeps 5
            system.delete(system.approved(ids[8]))  # one left out: its delete comes all the same
            rec.wait_for(lambda: len(rec.of(EventType.DELETE)) == 1, what="the delete")
            assert rec.ids() == ids[:5]
            assert sum(e.data["skipped"] for e in rec.of(SKIPPED)) == 7
            assert client.stats.from_history == 0  # no gap repair on the sample: the seq jumps are expected
        lines = watch.wait_for(lambda ls: any(x.startswith("[deleted]") for x in ls))
    finally:
        rc = watch.stop(signal.SIGINT)
    assert rc == 0, (tmp_path / "watch.err").read_text()
    assert [x for x in lines if ": burst " in x] == [x for x in lines if x.startswith("#")]
    assert len([x for x in lines if ": burst " in x]) == 5
    assert "[… 7 comments not shown]" in lines


def test_deletes_pins_and_state_reach_the_client_in_order(system: System) -> None:
    rec = Recorder()
    stream = (EventType.COMMENT, EventType.DELETE, EventType.PIN, EventType.UNPIN)
    with LiveClient(system.video, [system.mqtt], http=system.http, on_event=rec, **FAST) as client:
        assert client.wait_connected(10)
        rec.wait_for(lambda: client.last_seq == 0, what="seeded")
        keep = system.approved(system.post("keep me"))
        drop = system.approved(system.post("delete me", user="bob"))
        rec.wait_for(lambda: len(rec.comments()) == 2, what="two comments")
        system.pin(keep)
        rec.wait_for(lambda: any((e.data.get("pinned") or {}).get("id") == keep for e in rec.of(EventType.STATE)),
                     what="the retained state naming the pinned comment")
        system.delete(drop, user="bob")  # by its author
        system.unpin()
        rec.wait_for(lambda: len([e for e in rec.events if e.type in stream]) == 5, what="five stream events")
        rec.wait_for(lambda: rec.of(EventType.STATE)[-1].data["pinned"] is None, what="the state without a pin")
    events = [e for e in rec.events if e.type in stream]
    assert [(e.type, e.seq, e.id) for e in events] == [
        (EventType.COMMENT, 1, keep), (EventType.COMMENT, 2, drop), (EventType.PIN, 3, keep),
        (EventType.DELETE, 4, drop), (EventType.UNPIN, 5, None),
    ]
    assert events[2].comment is not None and events[2].comment["text"] == "keep me"
    state = rec.of(EventType.STATE)[-1].data
    assert (state["status"], state["chat"]) == ("live", "open")


def test_a_dead_first_broker_fails_over_to_the_next_url(system: System) -> None:
    dead = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    rec = Recorder()
    with LiveClient(system.video, [dead, system.ws], http=system.http, on_event=rec, **FAST) as client:
        assert client.wait_connected(15)
        assert client.connected_url == system.ws
        rec.wait_for(lambda: client.last_seq == 0, what="seeded (the video has no comment yet)")
        posted = system.post("over websockets")
        rec.wait_for(lambda: rec.ids() == [posted], what="a comment through the second broker")
    assert client.stats.failed_attempts >= 1
    assert rec.comments()[0].source is Source.LIVE


def test_losing_the_broker_in_use_fails_over_and_misses_nothing(system: System, proxy: Proxy) -> None:
    rec = Recorder()
    first_url = f"mqtt://127.0.0.1:{proxy.port}"
    with LiveClient(system.video, [first_url, system.ws], http=system.http, on_event=rec, **FAST) as client:
        assert client.wait_connected(10) and client.connected_url == first_url
        ids = [system.post("on the first broker")]
        rec.wait_for(lambda: rec.ids() == ids, what="a comment through the first broker")
        proxy.close()  # that broker is gone for good
        ids.append(system.post("during the failover"))
        rec.wait_for(lambda: client.connected_url == system.ws, what="the client on the second broker")
        ids.append(system.post("on the second broker"))
        rec.wait_for(lambda: len(rec.comments()) >= 3, what="every comment")
    assert_exactly_once_in_order(rec.comments(), ids)
    assert rec.of(EventType.CONNECTED)[-1].data == {"url": system.ws}


# -- livecomments watch and the examples ----------------------------------------------------------


class Lines:
    """Reads a child's stdout line by line in the background; tests wait on what it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, check: Callable[[list[str]], bool], timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check(self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise TimeoutError(f"not printed; got {self.lines}")
                self._cond.wait(min(left, 0.5))
            return list(self.lines)

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            self._reader.join(5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        return rc


def spawn(args: list[str], env: dict[str, str], stderr: Path) -> Lines:
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, *args], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8",
        )
    return Lines(proc)


def test_watch_prints_comments_with_replies_indented(system: System, tmp_path: Path) -> None:
    first = system.post("hello everyone")
    # no --broker, no --http: watch finds the system from the environment (its default URLs)
    watch = spawn(["-m", "livecomments", "watch", system.video], system.stack.env, tmp_path / "watch.err")
    try:
        watch.wait_for(lambda lines: any("Alice: hello everyone" in line for line in lines))
        question = system.approved(system.post("who is watching?", user="bob"))
        system.approved(system.post("me, from Lisbon", user="carol", parent_id=question))
        system.approved(system.post("multi\nline", user="dave"))
        system.pin(question)
        system.delete(first)
        lines = watch.wait_for(lambda ls: "[live · chat open]" in ls and any(x.startswith("[deleted]") for x in ls))
    finally:
        rc = watch.stop(signal.SIGINT)
    assert rc == 0, (tmp_path / "watch.err").read_text()
    assert not any("\x1b" in line for line in lines)  # stdout is a pipe: no colour

    def line(text: str) -> str:
        found = [x for x in lines if text in x and (text.startswith("[") or not x.startswith("["))]
        assert len(found) == 1, (text, lines)
        return found[0]

    assert line("Alice: hello everyone").startswith("#1 ")
    assert line("Bob: who is watching?").startswith("#2 ")
    reply = line("Carol: me, from Lisbon")
    assert reply.startswith("      ↳ #2  ")  # indented, under its parent's marker
    multi = line("Dave: multi")
    assert multi.startswith("#4 ")
    follow = lines[lines.index(multi) + 1]
    assert follow.strip() == "line" and len(follow) - len(follow.lstrip()) == len(multi) - len("multi")
    assert line("[pinned]") == "[pinned] #2 Bob: who is watching?"
    assert line("[deleted]") == "[deleted] #1 Alice: hello everyone"
    assert lines.index(reply) < lines.index(multi) < lines.index(line("[pinned]")) < lines.index(line("[deleted]"))
    assert "connected to mqtt://127.0.0.1:" in (tmp_path / "watch.err").read_text()


def test_display_board_example_prints_the_ticker_then_the_sample(system: System, tmp_path: Path) -> None:
    system.post("hello board")
    wait_published(system, 1)  # the retained ticker is there before the board subscribes
    board = spawn(["examples/display_board.py", system.video, "--port", str(system.stack.mqtt_port)], system.stack.env,
                  tmp_path / "board.err")
    try:
        board.wait_for(lambda lines: "TICKER Alice: hello board" in lines)  # the retained value, at once
        bob = system.post("ünïcode and a long line " + "x" * 200, user="bob")
        board.wait_for(lambda lines: any(line.startswith("COMMENT Bob: ") for line in lines))  # from the sample
        system.delete(system.approved(bob))
        lines = board.wait_for(lambda lines: "CLEAR" in lines)  # the comment on the board was deleted
    finally:
        rc = board.stop(signal.SIGTERM)
    assert rc == 0, (tmp_path / "board.err").read_text()
    line = next(line for line in lines if line.startswith("COMMENT Bob: "))[len("COMMENT "):]
    assert line.startswith("Bob: ünïcode") and line.endswith("…") and len(line.encode()) <= 160
    assert not any(line.startswith("TICKER Bob") for line in lines)  # the ticker was left: the sample says it


def test_follow_video_example_from_the_docs(system: System, tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "client.md").read_text()
    example = (ROOT / "examples" / "follow_video.py").read_text()
    assert example.strip() in doc  # the doc shows the file as it is
    ids = [system.post("one"), system.post("two", user="bob")]
    wait_published(system, 2)
    follow = spawn(["examples/follow_video.py", system.video, "--idle", "2"], system.stack.env, tmp_path / "follow.err")
    lines = follow.wait_for(lambda lines: len([x for x in lines if not x.startswith("--")]) >= 2)
    assert follow.proc.wait(20) == 0  # quiet for 2 s: it stops by itself
    follow.stop()
    assert lines[:3] == [f"-- connected {system.mqtt}", "1 recent: Alice: one", "2 recent: Bob: two"]
    assert len(ids) == 2


# -- pure parts of the glue -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "websocket", "tls", "path", "user"),
    [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False, False, "/mqtt", None),
        ("mqtt://edge1", "edge1", 1883, False, False, "/mqtt", None),
        ("tcp://edge1:11883", "edge1", 11883, False, False, "/mqtt", None),
        ("mqtts://edge1", "edge1", 8883, False, True, "/mqtt", None),
        ("ws://127.0.0.1:8083/mqtt", "127.0.0.1", 8083, True, False, "/mqtt", None),
        ("ws://edge1:8083", "edge1", 8083, True, False, "/mqtt", None),
        ("wss://live.example.com/other", "live.example.com", 443, True, True, "/other", None),
        ("mqtt://viewer:p%40ss@edge1:1883", "edge1", 1883, False, False, "/mqtt", "viewer"),
    ],
)
def test_broker_urls(url: str, host: str, port: int, websocket: bool, tls: bool, path: str, user: str | None) -> None:
    b = BrokerURL.parse(url)
    assert (b.host, b.port, b.websocket, b.tls, b.path, b.username) == (host, port, websocket, tls, path, user)
    if user:
        assert b.password == "p@ss" and "p%40ss" not in str(b) and "***" in str(b)


@pytest.mark.parametrize("url", ["http://edge1", "edge1:1883", "mqtt://", "redis://x:1"])
def test_bad_broker_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        BrokerURL.parse(url)


def test_websocket_control_frames_are_masked() -> None:
    # paho 2.2 sends its PONG unmasked, and amqtt's WebSocket server then drops the connection
    # at its first ping (20 s): the client masks every frame it sends (RFC 6455, 5.1).
    wrapper = object.__new__(paho._WebsocketWrapper)
    assert wrapper._create_frame(paho._WebsocketWrapper.OPCODE_PONG, bytearray(b"hi"), 0)[1] & 0x80 == 0
    mask_every_frame(wrapper)
    for opcode in (paho._WebsocketWrapper.OPCODE_PONG, paho._WebsocketWrapper.OPCODE_CONNCLOSE):
        frame = wrapper._create_frame(opcode, bytearray(b"hi"), 0)
        assert frame[1] & 0x80 and len(frame) == 2 + 4 + 2  # mask bit, 4-byte key, masked payload
    mask_every_frame(object())  # anything else: left alone


def test_recent_is_left_the_grace_after_its_first_snapshot_or_after_the_wait() -> None:
    assert RECENT_GRACE_S == 1.0  # as webapp/static/subscriptions.js RECENT_GRACE_MS
    assert recent_leave_at(100.0, 1.0, 100.02) == 100.02 + RECENT_GRACE_S  # the snapshot came at once
    assert recent_leave_at(100.0, 1.0) == 101.0 + RECENT_GRACE_S  # none came: after the wait, the grace
    assert recent_leave_at(100.0, 1.0, 101.5) == 101.0 + RECENT_GRACE_S  # one after the wait does not start it again


def test_client_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        LiveClient("a/b")  # never reaches a topic name
    with pytest.raises(ValueError):
        LiveClient("v1", [])
    with pytest.raises(ValueError):
        LiveClient("v1", http="file:///etc/passwd")


def _comment(seq: int, cid: str, name: str, text: str, parent: str | None = None) -> Event:
    comment = {"id": cid, "seq": seq, "parent_id": parent, "user": {"id": name.lower(), "name": name},
               "text": text, "ts": 1764000000000}
    return Event(EventType.COMMENT, seq, comment, cid)


def test_renderer_lines() -> None:
    r = Renderer(colour=False)
    clock = time.strftime("%H:%M:%S", time.localtime(1764000000))
    assert r.render(_comment(12, "A", "Alice", "hello")) == [f"#12   {clock}  Alice: hello"]
    assert r.render(_comment(13, "B", "Bob", "hi Alice", parent="A")) == [f"      ↳ #12  {clock}  Bob: hi Alice"]
    assert r.render(_comment(14, "C", "Carol", "orphan", parent="01JDQ3XYZABCDEF")) == [
        f"      ↳ …ABCDEF  {clock}  Carol: orphan"
    ]
    two = r.render(_comment(15, "D", "Dave", "one\ntwo"))
    assert two == [f"#15   {clock}  Dave: one", " " * len(f"#15   {clock}  Dave: ") + "two"]
    assert r.render(Event(EventType.DELETE, 16, id="B")) == ["[deleted] #13 Bob: hi Alice"]
    assert r.render(Event(EventType.DELETE, 17, id="Z")) == ["[deleted] comment Z"]
    pin = _comment(12, "A", "Alice", "hello")
    assert r.render(Event(EventType.PIN, 18, pin.comment, "A")) == ["[pinned] #12 Alice: hello"]
    assert r.render(Event(EventType.PIN, 18, pin.comment, "A")) == []  # pinned already
    assert r.render(Event(EventType.UNPIN, 19)) == ["[unpinned]"]
    assert r.render(Event(EventType.UNPIN, 19)) == []
    assert r.render(Event(EventType.REACTIONS, data={"video": {"like": 3}})) == []
    assert r.render(Event("edit", 20, id="A")) == []  # a newer event type: not shown, no crash


def test_renderer_state_lines_only_on_change() -> None:
    r = Renderer()
    state = {"status": "live", "chat": "open", "slow_mode_s": 0, "hold_for_review": False, "viewers": 3,
             "pinned": None}
    assert r.render(Event(EventType.STATE, data=state)) == ["[live · chat open]"]
    assert r.render(Event(EventType.STATE, data={**state, "viewers": 9})) == []
    pinned = _comment(3, "P", "Pat", "read the rules").comment
    assert r.render(Event(EventType.STATE, data={**state, "chat": "closed", "slow_mode_s": 10, "pinned": pinned})) == [
        "[live · chat closed · slow mode 10s]", "[pinned] #3 Pat: read the rules",
    ]
    assert r.render(Event(EventType.STATE, data={**state, "chat": "closed", "slow_mode_s": 10})) == ["[unpinned]"]


def test_renderer_colours_and_never_passes_control_characters() -> None:
    coloured = Renderer(colour=True).render(_comment(1, "A", "Mallory", "hi \x1b[2J\x07 there\u202e"))[0]
    assert "\x1b[1;" in coloured and coloured.endswith("hi \ufffd[2J\ufffd there\ufffd")
    plain = Renderer(colour=False).render(_comment(1, "A", "Mallory\x1b]0;x\x07", "hi"))[0]
    assert "\x1b" not in plain and "\x07" not in plain
    assert safe("a\nb\tc\x7f") == "a\nb\ufffdc\ufffd"
    status = Renderer(colour=False).status(Event(EventType.CONNECTED, data={"url": "mqtt://h:1"}))
    assert status == "· connected to mqtt://h:1"


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "env", "want"),
    [(True, {}, True), (False, {}, False), (True, {"NO_COLOR": "1"}, False), (True, {"NO_COLOR": ""}, True)],
)
def test_colour_only_for_a_terminal_without_no_color(tty: bool, env: dict[str, str], want: bool) -> None:
    assert use_colour(_Stream(tty), env) is want  # type: ignore[arg-type]


def test_watch_defaults_follow_the_environment() -> None:
    assert default_broker({}) == "mqtt://127.0.0.1:1883" and default_http({}) == "http://127.0.0.1:8000"
    env = {"LIVECOMMENTS_MQTT_PORT": "11883", "LIVECOMMENTS_HTTP_PORT": "18000"}
    assert default_broker(env) == "mqtt://127.0.0.1:11883" and default_http(env) == "http://127.0.0.1:18000"
    args = build_parser().parse_args(["watch", "v1", "--broker", "mqtt://a:1", "--broker", "ws://b:2/mqtt"])
    assert (args.command, args.video, args.broker, args.http) == ("watch", "v1", ["mqtt://a:1", "ws://b:2/mqtt"], None)
