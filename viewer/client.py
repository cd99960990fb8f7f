"""A live comments client for one video: MQTT for the stream, HTTP history for the gaps.

Two threads, no shared paho calls between them:

- the network thread connects to one broker URL after another (backoff with full jitter,
  failover round robin), runs paho's loop, and puts what arrives on an inbox queue;
- the worker thread feeds the inbox to the pure `Sequencer`, performs the history
  requests it asks for, and hands the resulting events to `on_event` or to `events()`.

The ordering, de-duplication and gap rules live in `viewer.sequencer`; the reconnect
schedule in `viewer.backoff`. This module is only the glue.

Each connection announces itself (`presence/videos/{v}/{its client id}`) once subscribed and then
every 30 s ± 5 s, and `viewers` keeps the count the video's `state` last gave (`announce=False`:
a silent client, not counted).

Each connection takes the retained `recent` snapshot, keeps the topic for RECENT_GRACE_S more (a
fresher one may follow: the retained one can be a republish interval old), and unsubscribes from
it (the bridge republishes it after every batch; docs/client.md, "Which topics to stay on", says why).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlencode, urlsplit
from urllib.request import Request, urlopen

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from livecomments.presence import next_announcement_in, presence_topic
from livecomments.topics import Topics
from livecomments.validation import check_id
from viewer.backoff import Backoff, Random, ReconnectPlan
from viewer.sampled import SampleSequencer
from viewer.sequencer import Event, EventType, Fetch, Sequencer, Source, Step

log = logging.getLogger("livecomments.viewer")

EventCallback = Callable[[Event], None]

# How long a connection keeps `recent` after its first snapshot (or after `seed_timeout` without
# one), as webapp/static/subscriptions.js RECENT_GRACE_MS: the bridge republishes `recent` at most
# 250 ms after a change, so the retained snapshot may lack the comment of an event sent just before
# we subscribed, and the fresh one reveals it (it is then fetched from history).
RECENT_GRACE_S = 1.0


def recent_leave_at(subscribed_at: float, wait: float, first_snapshot_at: float | None = None) -> float:
    """When a connection leaves `recent`: RECENT_GRACE_S after its first snapshot came, or after the
    wait for one (`wait` seconds from `subscribed_at`) is over, whichever is first. Any clock."""
    start = subscribed_at + wait
    if first_snapshot_at is not None:
        start = min(start, first_snapshot_at)
    return start + RECENT_GRACE_S


_DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class BrokerURL:
    """`mqtt://host:port`, `mqtts://…`, `ws://host:port/mqtt` or `wss://…`, with optional `user:password@`."""

    url: str
    host: str
    port: int
    websocket: bool
    tls: bool
    path: str = "/mqtt"
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerURL:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"broker URL {url!r} must look like mqtt://host:port or ws://host:port/mqtt")
        return cls(
            url=url,
            host=parts.hostname,
            port=parts.port or _DEFAULT_PORTS[scheme],
            websocket=scheme in ("ws", "wss"),
            tls=scheme in ("mqtts", "ssl", "wss"),
            path=parts.path or "/mqtt",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:  # never print a password
        if self.password is None:
            return self.url
        parts = urlsplit(self.url)
        netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
        return parts._replace(netloc=netloc).geturl()


class HistoryError(Exception):
    """The history API could not be read."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Stats:
    """Counters, for dashboards and tests."""

    connections: int = 0  # connected and subscribed
    disconnections: int = 0  # lost a connection that had worked
    failed_attempts: int = 0  # a broker URL that did not take us
    history_requests: int = 0
    from_history: int = 0  # events emitted from history (gap repair)
    emitted: int = 0
    recent_messages: int = 0  # `recent` snapshots received: those of each connection's grace, and any in flight
    announcements: int = 0  # presence announcements sent (each connection's first, then every 30 s ± 5 s)


def set_nodelay(sock: Any) -> None:
    """TCP_NODELAY on the socket under `sock` (a plain, TLS or paho WebSocket one).

    Nagle would otherwise hold every small packet for ~9 ms. The option belongs to the
    socket, so setting it through a duplicate of the descriptor is enough.
    """
    try:
        with socket.fromfd(sock.fileno(), socket.AF_INET, socket.SOCK_STREAM) as dup:
            dup.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError, ValueError):
        pass  # not a TCP socket (a Unix socket, say): nothing to do


def mask_every_frame(sock: Any) -> None:
    """Make paho's WebSocket wrapper mask the control frames it sends, as RFC 6455 requires.

    paho-mqtt 2.2 answers a server's WebSocket PING with an unmasked PONG; a conforming
    server (amqtt's, through the `websockets` library, pings every 20 s) then drops the
    connection. Data frames are masked already; this makes PONG and CLOSE masked too.
    A no-op for other sockets, or if a later paho no longer has the private method.
    """
    create = getattr(sock, "_create_frame", None)
    if create is None or not callable(create):
        return

    def masked(opcode: int, data: bytearray, do_masking: int = 1) -> Any:
        return create(opcode, data, 1)

    sock._create_frame = masked


class _Stop:
    pass


_STOP = _Stop()


class LiveClient:
    """Live comments of one video, in order, each once, repaired after gaps and reconnects.

    >>> with LiveClient("v1", ["mqtt://127.0.0.1:1883"], http="http://127.0.0.1:8000") as client:
    ...     for event in client.events(timeout=30):
    ...         print(event.type, event.seq, event.comment)

    Events go to `on_event` (called on the client's worker thread) when it is set, and to
    the `events()` iterator otherwise.

    `sample=True` follows the sampled feed (`live/videos/{v}/sample`) instead of `comments`: at most
    the deployment's `sample_per_s` comments a second and every other event, with no gap repair
    (its seq jumps are the comments left out); a `viewer.sampled.SKIPPED` event says how many.
    """

    def __init__(
        self,
        video_id: str,
        brokers: Sequence[str] | str = ("mqtt://127.0.0.1:1883",),
        http: str | None = None,
        *,
        on_event: EventCallback | None = None,
        live_prefix: str = "live/",
        keepalive: int = 30,
        connect_timeout: float = 5.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        seed_timeout: float = 1.0,
        gap_timeout: float = 15.0,
        http_timeout: float = 10.0,
        recent_size: int = 50,
        sample: bool = False,
        rand: Random = random.random,
        announce: bool = True,
    ) -> None:
        self.video_id = check_id("video_id", video_id)
        urls = [brokers] if isinstance(brokers, str) else list(brokers)
        self.brokers = [BrokerURL.parse(u) for u in urls]
        if not self.brokers:
            raise ValueError("at least one broker URL is needed")
        if http is not None and urlsplit(http).scheme not in ("http", "https"):
            raise ValueError(f"history URL {http!r} must be http:// or https://")
        self.http = http.rstrip("/") if http is not None else None
        self.on_event = on_event
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.seed_timeout = seed_timeout
        self.gap_timeout = gap_timeout
        self.http_timeout = http_timeout
        self.recent_size = recent_size
        self.announce = announce  # announce itself on presence/ (docs/client.md, "Who is watching")
        self.viewers: int | None = None  # the video's `viewers`, as its last `state` said
        self.peak_viewers: int | None = None
        self._rand = rand
        self.stats = Stats()
        topics = Topics(live_prefix=live_prefix)
        self.sample = sample
        self._topic_comments = topics.sample(video_id) if sample else topics.comments(video_id)  # the stream followed
        self._topic_recent = topics.recent(video_id)
        self._topic_state = topics.state(video_id)
        self._topic_reactions = topics.reactions(video_id)
        self._plan = ReconnectPlan([b.url for b in self.brokers], backoff_base, backoff_cap, rand)
        self._http_backoff = Backoff(backoff_base, backoff_cap, rand)
        self._sequencer = SampleSequencer() if sample else Sequencer()
        self._inbox: queue.Queue[tuple[Any, ...] | _Stop] = queue.Queue()
        self._events: queue.Queue[Event | _Stop] = queue.Queue()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._url: str | None = None
        # worker-thread state
        self._ever_subscribed = False
        self._seed_at: float | None = None
        self._seed_deadline: float | None = None
        self._retry_at: float | None = None
        self._hint_at: float | None = None
        self._gap_since: float | None = None

    # -- public API -----------------------------------------------------------------

    def start(self) -> LiveClient:
        if self._threads:
            raise RuntimeError("the client was already started")
        self._threads = [
            threading.Thread(target=self._work, name=f"livecomments-{self.video_id}-worker", daemon=True),
            threading.Thread(target=self._supervise, name=f"livecomments-{self.video_id}-mqtt", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and end the threads; `events()` iterators end once they are drained."""
        self._stopping.set()
        self._inbox.put(_STOP)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._events.put(_STOP)

    def __enter__(self) -> LiveClient:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events as they come. Ends when none came for `timeout` seconds, or once the client is stopped."""
        while True:
            try:
                item = self._events.get(timeout=timeout)
            except queue.Empty:
                return
            if isinstance(item, _Stop):
                self._events.put(item)  # for any other iterator
                return
            yield item

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until subscribed through some broker; False on timeout."""
        return self._subscribed.wait(timeout)

    @property
    def connected_url(self) -> str | None:
        """The broker URL in use, while connected."""
        return self._url if self._subscribed.is_set() else None

    @property
    def last_seq(self) -> int | None:
        """The stream's position: every `seq` up to here was emitted or is known to be unrecoverable."""
        return self._sequencer.last_seq

    # -- network thread -------------------------------------------------------------

    def _supervise(self) -> None:
        attempt = self._plan.first()
        while not self._stopping.is_set():
            if attempt.delay > 0 and self._stopping.wait(attempt.delay):
                break
            broker = next(b for b in self.brokers if b.url == attempt.url)
            try:
                self._session(broker)
            except Exception:  # a bug must not end the reconnect loop
                log.exception("unexpected error on the connection to %s", broker)
            if self._stopping.is_set():
                break
            attempt = self._plan.next()
            log.info("next broker %s in %.2fs", BrokerURL.parse(attempt.url), attempt.delay)

    def _session(self, broker: BrokerURL) -> None:
        """One connection: connect, subscribe, run until it is lost or the client stops."""
        state: dict[str, Any] = {"failed": None, "subscribed": False, "recent_until": None}
        client = self._paho_client(broker, state)
        try:
            client.connect(broker.host, broker.port, keepalive=self.keepalive)
        except (OSError, ValueError) as exc:
            self.stats.failed_attempts += 1
            log.warning("cannot connect to %s: %s", broker, exc)
            return
        deadline = time.monotonic() + self.connect_timeout
        reason = "connection lost"
        while not self._stopping.is_set():
            until = state["recent_until"]
            rc = client.loop(timeout=0.2 if until is None else min(0.2, max(0.0, until - time.monotonic())))
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                reason = paho.error_string(rc)
                break
            if state["failed"] is not None:
                reason = str(state["failed"])
                break
            if not state["subscribed"] and time.monotonic() > deadline:
                reason = f"not subscribed within {self.connect_timeout}s"
                break
            until = state["recent_until"]
            if until is not None and time.monotonic() >= until:
                self._leave_recent(client, state)  # the grace is over (or no `recent` came, and it was waited for)
            announce_at = state.get("announce_at")
            if announce_at is not None and time.monotonic() >= announce_at:
                self._announce(client, state)
        if self._stopping.is_set():
            reason = "stopped"
        self._subscribed.clear()
        try:
            client.disconnect()
        except (OSError, ValueError):
            pass
        client.loop(timeout=0)  # let paho close the socket
        if state["subscribed"]:
            self.stats.disconnections += 1
            log.info("disconnected from %s: %s", broker, reason)
            self._inbox.put(("lost", broker.url, reason))
        else:
            self.stats.failed_attempts += 1
            log.warning("broker %s did not take us: %s", broker, reason)

    def _paho_client(self, broker: BrokerURL, state: dict[str, Any]) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"lcv-{secrets.token_hex(6)}",
            clean_session=True,
            protocol=paho.MQTTv311,
            transport="websockets" if broker.websocket else "tcp",
            reconnect_on_failure=False,  # reconnecting, with failover, is ours to do
        )
        client.connect_timeout = self.connect_timeout
        if broker.websocket:
            client.ws_set_options(path=broker.path)
        if broker.tls:
            client.tls_set()
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        topics = [self._topic_comments, self._topic_recent, self._topic_state, self._topic_reactions]

        def on_socket_open(_c: paho.Client, _u: Any, sock: Any) -> None:
            set_nodelay(sock)
            if broker.websocket:
                mask_every_frame(sock)

        def on_connect(c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                state["failed"] = f"refused: {reason}"
                return
            c.subscribe([(t, 0) for t in topics])  # viewers get QoS 0; gaps are repaired from history
            state["holding_recent"] = True

        def on_subscribe(_c: paho.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
            if any(code.is_failure for code in codes):
                state["failed"] = "subscription refused"
                return
            state["subscribed"] = True
            if state.get("holding_recent"):
                state["subscribed_at"] = time.monotonic()
                state["recent_until"] = recent_leave_at(state["subscribed_at"], self.seed_timeout)
            self._url = broker.url
            if self.announce:
                state["announce_at"] = time.monotonic()  # once subscribed, then every 30 s ± 5 s
            self._plan.succeeded()
            self.stats.connections += 1
            log.info("subscribed to video %s through %s", self.video_id, broker)
            self._inbox.put(("subscribed", broker.url))
            self._subscribed.set()

        def on_message(c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            if msg.topic == self._topic_recent:
                self.stats.recent_messages += 1
                now = time.monotonic()
                if state.get("holding_recent") and state.get("first_recent_at") is None and "subscribed_at" in state:
                    state["first_recent_at"] = now  # the grace runs from here
                    state["recent_until"] = recent_leave_at(state["subscribed_at"], self.seed_timeout, now)
                until = state["recent_until"]
                if until is not None and now >= until:
                    self._leave_recent(c, state)
            self._inbox.put(("message", msg.topic, bytes(msg.payload)))

        client.on_socket_open = on_socket_open
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        return client

    def _announce(self, client: paho.Client, state: dict[str, Any]) -> None:
        """Say this connection watches the video: on presence/videos/{v}/{our client id}, QoS 0, not
        retained, empty (network thread only); the next one 30 s ± 5 s later."""
        client.publish(self._topic_presence(client), b"", qos=0, retain=False)
        self.stats.announcements += 1
        state["announce_at"] = time.monotonic() + next_announcement_in(self._rand)

    def _topic_presence(self, client: paho.Client) -> str:
        return presence_topic(self.video_id, client._client_id.decode())

    def _leave_recent(self, client: paho.Client, state: dict[str, Any]) -> None:
        """Unsubscribe from `recent`, once per connection, when its grace is over (network thread only).

        `recent` is a snapshot to join with: the bridge republishes it (the last 50 comments,
        ~11 KB) up to 4 times a second while comments come, and all of it also arrives as events
        on `comments`. Staying subscribed would multiply a viewer's bytes for nothing; the grace
        (RECENT_GRACE_S) costs at most ~4 more per connection.
        """
        state["recent_until"] = None
        if state.get("holding_recent"):
            state["holding_recent"] = False
            client.unsubscribe(self._topic_recent)

    # -- worker thread --------------------------------------------------------------

    def _work(self) -> None:
        while True:
            timeout = self._next_timer()
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, _Stop):
                return
            try:
                if item is not None:
                    self._handle(item)
                self._timers()
            except Exception:  # keep the stream going whatever one message did
                log.exception("error while handling %r", item[0] if item else "a timer")

    def _next_timer(self) -> float | None:
        due = [t for t in (self._seed_at, self._retry_at, self._hint_at) if t is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "message":
            self._on_message(item[1], item[2])
        elif kind == "subscribed":
            self._deliver([Event(EventType.CONNECTED, source=Source.LIVE, data={"url": item[1]})])
            if self._ever_subscribed:
                self._apply(self._sequencer.reconnected())
            elif not self._sequencer.seeded:
                now = time.monotonic()
                self._seed_at = now + self.seed_timeout
                self._seed_deadline = now + self.gap_timeout
            self._ever_subscribed = True
        elif kind == "lost":
            self._deliver([Event(EventType.DISCONNECTED, data={"url": item[1], "reason": item[2]})])

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            log.warning("dropped a message on %s that is not JSON", topic)
            return
        if not isinstance(doc, dict):
            log.warning("dropped a message on %s that is not a JSON object", topic)
            return
        if topic == self._topic_comments:
            self._apply(self._sequencer.batch(doc))
        elif topic == self._topic_recent:
            was_seeded = self._sequencer.seeded  # a later one (of the grace) says how far the stream has gone
            self._apply(self._sequencer.recent(doc))
            if self._sequencer.seeded:
                self._seed_at = self._seed_deadline = None
            last = self._sequencer.last_seq or 0
            if was_seeded and self._sequencer.head_hint > last and self._hint_at is None:
                # The stream should get there by itself; if it has not in a moment, something was lost.
                self._hint_at = time.monotonic() + 1.0
        elif topic == self._topic_state:
            viewers, peak = doc.get("viewers"), doc.get("peak_viewers")
            if isinstance(viewers, int) and not isinstance(viewers, bool):
                self.viewers = viewers
            if isinstance(peak, int) and not isinstance(peak, bool):
                self.peak_viewers = peak
            self._deliver([Event(EventType.STATE, data=doc)])
        elif topic == self._topic_reactions:
            self._deliver([Event(EventType.REACTIONS, data=doc)])

    def _timers(self) -> None:
        now = time.monotonic()
        if self._seed_at is not None and now >= self._seed_at:
            self._seed_at = None
            self._seed()
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self._apply(Step(fetch=self._sequencer.wanted()))
        if self._hint_at is not None and now >= self._hint_at:
            self._hint_at = None
            self._apply(Step(fetch=self._sequencer.wanted(use_hint=True)))

    def _seed(self) -> None:
        """No retained `recent` came: seed from the newest comments over HTTP, else lazily."""
        if self._sequencer.seeded:
            return
        if self.http is None:
            self._apply(self._sequencer.seed_lazily())
            return
        try:
            snapshot = self._http_snapshot()
        except HistoryError as exc:
            if self._seed_deadline is not None and time.monotonic() > self._seed_deadline:
                log.warning("cannot seed from history (%s); starting at the next live event", exc)
                self._apply(self._sequencer.seed_lazily())
            else:
                log.warning("cannot seed from history (%s); will retry", exc)
                self._seed_at = time.monotonic() + self._http_backoff.next_delay()
            return
        self._http_backoff.reset()
        self._apply(self._sequencer.recent(snapshot))

    def _apply(self, step: Step) -> None:
        """Deliver what the sequencer emitted, then fetch what it asked for, page by page."""
        self._deliver(step.emit)
        fetch = step.fetch
        while fetch is not None and self._retry_at is None and not self._stopping.is_set():
            if self.http is None:
                step = self._sequencer.give_up()
            else:
                try:
                    comments = self._http_history(fetch)
                except HistoryError as exc:
                    step = self._history_failed(exc)
                else:
                    self._http_backoff.reset()
                    step = self._sequencer.backfill(fetch, comments)
            self._deliver(step.emit)
            fetch = step.fetch
        self._gap_since = (self._gap_since or time.monotonic()) if self._sequencer.has_gap else None

    def _history_failed(self, exc: HistoryError) -> Step:
        """Retry later; but events held behind a gap wait `gap_timeout` at most, then the gap is skipped."""
        now = time.monotonic()
        delay = self._http_backoff.next_delay()
        if self._sequencer.has_gap:
            self._gap_since = self._gap_since or now
            waited = now - self._gap_since
            if waited >= self.gap_timeout:
                log.warning("history unavailable for %.0fs (%s): skipping the gap", waited, exc)
                self._gap_since = None
                return self._sequencer.give_up()
            delay = min(delay, self.gap_timeout - waited)
        log.warning("history request failed (%s); retrying in %.2fs", exc, delay)
        self._retry_at = now + delay
        return Step()

    def _deliver(self, events: list[Event]) -> None:
        if self._stopping.is_set():
            return  # stop() was called: nothing more reaches the application
        for event in events:
            self.stats.emitted += 1
            if event.source is Source.HISTORY:
                self.stats.from_history += 1
            callback = self.on_event
            if callback is None:
                self._events.put(event)
                continue
            try:
                callback(event)
            except Exception:
                log.exception("on_event raised; the stream goes on")

    # -- HTTP -------------------------------------------------------------------------

    def _http_history(self, fetch: Fetch) -> list[dict[str, Any]]:
        self.stats.history_requests += 1
        doc = self._get_json(f"/api/videos/{self.video_id}/comments", fetch.query())
        return _comments_of(doc)

    def _http_snapshot(self) -> dict[str, Any]:
        """A stand-in for `recent`: the newest comments, current to the highest `seq` among them.
        Events after that (pins, deletes) are then fetched like any gap."""
        try:
            doc = self._get_json(f"/api/videos/{self.video_id}/comments", {"limit": self.recent_size})
        except HistoryError as exc:
            if exc.status == 404:  # no such video (yet): nothing to show, the stream starts at 1
                return {"seq": 0, "comments": []}
            raise
        comments = list(reversed(_comments_of(doc)))  # newest first without a cursor
        seqs = [c["seq"] for c in comments if isinstance(c.get("seq"), int)]
        return {"seq": max(seqs, default=0), "comments": comments}

    def _get_json(self, path: str, params: dict[str, int] | None = None) -> Any:
        assert self.http is not None
        url = f"{self.http}{path}" + (f"?{urlencode(params)}" if params else "")
        request = Request(url, headers={"Accept": "application/json", "User-Agent": "livecomments-viewer"})  # noqa: S310 - scheme checked in __init__
        try:
            with urlopen(request, timeout=self.http_timeout) as response:  # noqa: S310 - scheme checked in __init__
                return json.loads(response.read())
        except HTTPError as exc:
            raise HistoryError(f"GET {path}: HTTP {exc.code}", exc.code) from exc
        except (URLError, OSError, ValueError) as exc:
            raise HistoryError(f"GET {path}: {exc}") from exc


def _comments_of(doc: Any) -> list[dict[str, Any]]:
    comments = doc.get("comments") if isinstance(doc, dict) else None
    if not isinstance(comments, list):
        raise HistoryError("history answer without a comments list")
    return [c for c in comments if isinstance(c, dict)]
