"""Who is watching: the bridge process's consumer of viewers' announcements (a Service).

It has an MQTT connection of its own (as the bridge account, a clean session, a random secret
client id), off the comment path: the ingest connection and its loop never see an announcement.
It subscribes to `presence/videos/+/+`; the network thread (paho's) only checks each message and
appends (video, client id) to a list. The counting thread, every FLUSH_S, hands that list to the
counter (`PresenceCounter`: in this process, or in Redis) for the videos that exist and are live,
and every PUBLISH_EVERY_S (5 s) asks it for the counts: those that changed are written to
`video_audience` (infra.audience: `viewers`, and `peak_viewers`, which only grows) in one
transaction, and each such video's owner is nudged (`ingest/videos/{v}/changes`, "state"), so
whichever bridge holds the video's partition republishes its retained `state`, read from the
database. So `viewers` changes on `state` at most once every 5 s, and GET /api/videos/{v} says
the same.

What is counted: a well-formed topic (both levels ids), QoS 0, not retained, at most 64 bytes
(livecomments.presence.is_announcement). The embedded broker refuses everything else already;
Mosquitto cannot look at a message's QoS, retain flag or size per topic, so this connection
speaks MQTT 5 there, subscribes at QoS 1 with "retain as published" (a QoS 1 or 2 announcement
arrives at QoS 1, a retained one with its flag: neither is counted) and clears each retained
announcement it is sent (an empty retained message on its topic). amqtt 0.12 has no MQTT 5: a
first connection that gets no CONNACK within PROBE_S falls back to 3.1.1 (QoS 0) for good.

A bridge process counts the videos its `owns` says (all of them by default: every process then
counts every video, the same way; with Redis they share one count).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bridge.presence_counter import Announcement, PresenceCounter
from infra.audience import live_among, write_audience
from infra.mqtt_client import BrokerAddress
from livecomments import presence
from livecomments.topics import Topics

log = logging.getLogger("livecomments.bridge.presence")

FLUSH_S = 0.25  # announcements go to the counter this often
PROBE_S = 2.0  # an MQTT 5 CONNECT without an answer this long: the broker speaks 3.1.1 only
MAX_PENDING = 200_000  # announcements waiting for the counting thread at most; beyond, dropped
LOOKUPS_PER_FLUSH = 1000  # videos not seen before looked up in the database per flush at most
LIVE_TTL_S = 30.0  # a video found live is counted without asking again this long
UNKNOWN_TTL_S = 10.0  # a video found missing or ended is not asked about again this long
RECONNECT_S = (1.0, 8.0)


def everything(_video_id: str) -> bool:
    return True


def presence_client_id() -> str:
    """Random and secret: any client presenting a connected client's id takes its place."""
    return f"livecomments-presence-{secrets.token_hex(8)}"


class PresenceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.announcements = Counter(
            "livecomments_presence_announcements", "Announcements counted", registry=self.registry)
        self.dropped = Counter(
            "livecomments_presence_dropped",
            "Messages on presence/ not counted, by reason (malformed, not_announcement, retained, unknown_video, "
            "backlog)", ["reason"], registry=self.registry)
        self.cpu_seconds = Counter(
            "livecomments_presence_cpu_seconds",
            "CPU time of the counting thread in the counter (adding announcements and counting)",
            registry=self.registry)
        self.writes = Counter(
            "livecomments_presence_writes", "Videos whose viewers were written (and their owner nudged)",
            registry=self.registry)
        self.videos = Gauge("livecomments_presence_videos", "Videos with an audience being counted",
                            registry=self.registry)
        self.viewers = Gauge("livecomments_presence_viewers", "Viewers counted, over every video",
                             registry=self.registry)


class PresenceService:
    """A Service (livecomments.service): start() returns once the threads run (the connection is
    being made); stop() ends them."""

    name = "presence"

    def __init__(
        self,
        counter: PresenceCounter,
        engine: Engine,
        addr: BrokerAddress,
        topics: Topics,
        *,
        client_id: str | None = None,
        owns: Callable[[str], bool] = everything,
        metrics: PresenceMetrics | None = None,
        clock: Callable[[], float] = time.time,
        publish_every_s: float = presence.PUBLISH_EVERY_S,
        mqtt5: bool | None = None,
    ) -> None:
        self.counter = counter
        self.addr = addr
        self.topics = topics
        self.client_id = client_id or presence_client_id()
        self.owns = owns
        self.metrics = metrics or PresenceMetrics()
        self.clock = clock
        self.publish_every_s = publish_every_s
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._pending: list[Announcement] = []
        self._outgoing: list[tuple[str, bytes, bool]] = []  # (topic, payload, retain): sent by the network thread
        self._known: dict[str, tuple[bool, float]] = {}  # video -> (live, until when)
        self._written: dict[str, int] = {}  # video -> the viewers last written
        self._mqtt5 = mqtt5  # whether the broker speaks MQTT 5 (Mosquitto) or not (amqtt); None: probe
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the Service -----------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("a PresenceService starts once")
        self._stop.clear()
        self._threads = [threading.Thread(target=self._network, name="presence-mqtt", daemon=True),
                         threading.Thread(target=self._counting, name="presence-count", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(10)

    def is_alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def is_connected(self) -> bool:
        return self._connected.is_set()

    # -- the network thread ----------------------------------------------------------

    def _network(self) -> None:
        delay = RECONNECT_S[0]
        while not self._stop.is_set():
            probing = self._mqtt5 is None
            try:
                worked = self._session()
            except Exception:  # a bug must not end the reconnect loop
                log.exception("presence: unexpected error on the broker connection")
                worked = False
            if probing and self._mqtt5 is False:
                continue  # the probe found MQTT 3.1.1 only: at once again, with it
            delay = RECONNECT_S[0] if worked else min(RECONNECT_S[1], delay * 2)
            self._stop.wait(delay)

    def _session(self) -> bool:
        """One connection until it is lost or the service stops; whether it got subscribed."""
        mqtt5 = self._mqtt5 is not False
        client = self._make_client(mqtt5)
        state: dict[str, Any] = {"connack": None, "subscribed": False}
        client.on_connect = lambda c, _u, _f, rc, _p: self._on_connect(c, rc, state, mqtt5)
        client.on_subscribe = lambda *_a: self._on_subscribed(state)
        client.on_message = self._on_message
        try:
            client.connect(self.addr.host, self.addr.port, keepalive=30, clean_start=True) if mqtt5 else \
                client.connect(self.addr.host, self.addr.port, keepalive=30)
        except (OSError, ValueError) as exc:
            log.warning("presence: cannot connect to mqtt://%s:%d: %s", self.addr.host, self.addr.port, exc)
            return False
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                rc = client.loop(timeout=0.1)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                if state["connack"] is None and time.monotonic() - started > PROBE_S:
                    if mqtt5 and self._mqtt5 is None:
                        log.info("presence: no answer to an MQTT 5 CONNECT; using MQTT 3.1.1 (amqtt)")
                        self._mqtt5 = False
                    break
                if state["connack"] is False:
                    break
                self._send_outgoing(client)
        finally:
            self._connected.clear()
            try:
                client.disconnect()
                client.loop(timeout=0)
            except (OSError, ValueError):
                pass
        return bool(state["subscribed"])

    def _make_client(self, mqtt5: bool) -> paho.Client:
        if mqtt5:  # clean_start goes with CONNECT
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5)
        else:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311,
                                 clean_session=True)
        if self.addr.username is not None:
            client.username_pw_set(self.addr.username, self.addr.password)
        return client

    def _on_connect(self, client: paho.Client, rc: Any, state: dict[str, Any], mqtt5: bool) -> None:
        if rc.is_failure:
            log.error("presence: the broker refused the connection: %s", rc)
            state["connack"] = False
            if mqtt5 and self._mqtt5 is None and "protocol" in str(rc).lower():
                self._mqtt5 = False
            return
        state["connack"] = True
        if mqtt5:
            self._mqtt5 = True
            options = SubscribeOptions(qos=1, retainAsPublished=True)
            client.subscribe(presence.PRESENCE_FILTER, options=options)
        else:
            client.subscribe(presence.PRESENCE_FILTER, qos=0)

    def _on_subscribed(self, state: dict[str, Any]) -> None:
        state["subscribed"] = True
        self._connected.set()
        log.info("presence: counting announcements on %s (MQTT %s)", presence.PRESENCE_FILTER,
                 "5" if self._mqtt5 else "3.1.1")

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        """On paho's thread: check, and queue for the counting thread. Nothing else."""
        parsed = presence.parse_presence_topic(msg.topic)
        if parsed is None:
            self.metrics.dropped.labels("malformed").inc()
            return
        if msg.retain:
            if msg.payload:  # an empty one is a clear (maybe ours): nothing to clear
                self.metrics.dropped.labels("retained").inc()
                with self._lock:
                    self._outgoing.append((msg.topic, b"", True))
            return
        if not presence.is_announcement(msg.qos, False, len(msg.payload)):
            self.metrics.dropped.labels("not_announcement").inc()
            return
        if not self.owns(parsed[0]):
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.metrics.dropped.labels("backlog").inc()
                return
            self._pending.append(parsed)

    def _send_outgoing(self, client: paho.Client) -> None:
        """The clears of retained announcements and the owners' nudges, from this thread only."""
        if not self._outgoing:
            return
        with self._lock:
            outgoing, self._outgoing = self._outgoing, []
        for topic, payload, retain in dict.fromkeys(outgoing):
            client.publish(topic, payload, qos=0, retain=retain)

    # -- the counting thread ---------------------------------------------------------

    def _counting(self) -> None:
        next_count = time.monotonic() + self.publish_every_s
        while not self._stop.wait(FLUSH_S):
            try:
                self._flush()
                if time.monotonic() >= next_count:
                    next_count = time.monotonic() + self.publish_every_s
                    self._count()
            except Exception:  # the database or Redis failed in a way not handled below: go on
                log.exception("presence: a counting round failed")

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        now = self.clock()
        live = self._live(batch, now)
        counted = [a for a in batch if a[0] in live]
        if len(counted) < len(batch):
            self.metrics.dropped.labels("unknown_video").inc(len(batch) - len(counted))
        if counted:
            started = time.thread_time()
            self.counter.add(counted, now)
            self.metrics.cpu_seconds.inc(time.thread_time() - started)
            self.metrics.announcements.inc(len(counted))

    def _live(self, batch: list[Announcement], now: float) -> set[str]:
        """The videos of the batch that exist and are live (from a cache, the database for new ones)."""
        known, live, unknown = self._known, set(), []
        for video_id in {v for v, _c in batch}:
            entry = known.get(video_id)
            if entry is not None and entry[1] > now:
                if entry[0]:
                    live.add(video_id)
            else:
                unknown.append(video_id)
        if unknown:
            ask = unknown[:LOOKUPS_PER_FLUSH]
            try:
                with self._sessions() as session:
                    found = live_among(session, ask)
            except SQLAlchemyError as exc:
                log.warning("presence: cannot look videos up (%s); their announcements wait for the next", exc)
                return live
            for video_id in ask:
                is_live = video_id in found
                known[video_id] = (is_live, now + (LIVE_TTL_S if is_live else UNKNOWN_TTL_S))
            live |= found
            if len(known) > 4 * MAX_PENDING:  # bounded: the stale entries go
                for video_id in [v for v, (_l, until) in known.items() if until <= now]:
                    del known[video_id]
        return live

    def _count(self) -> None:
        now = self.clock()
        started = time.thread_time()
        counts = self.counter.counts(now)
        self.metrics.cpu_seconds.inc(time.thread_time() - started)
        changed = {v: n for v, n in counts.items() if self._written.get(v) != n}
        self.metrics.videos.set(sum(1 for n in counts.values() if n))
        self.metrics.viewers.set(sum(counts.values()))
        if changed:
            try:
                with self._sessions.begin() as session:
                    write_audience(session, changed, int(now * 1000))
            except SQLAlchemyError as exc:
                log.warning("presence: cannot write %d videos' viewers (%s); next round", len(changed), exc)
                return
            self.metrics.writes.inc(len(changed))
            self._nudge(changed)
        self._written.update(changed)
        for video_id in [v for v in self._written if v not in counts]:  # forgotten by the counter (at 0)
            del self._written[video_id]

    def _nudge(self, videos: dict[str, int]) -> None:
        """Tell each video's owner that its `state` changed (QoS 0, as the web app's nudges: if one is
        lost, the owner republishes `state`, with the count written, at its next change or reconnect)."""
        if not self._connected.is_set():
            return
        nudges = [(self.topics.ingest_changes(v), orjson.dumps({"video_id": v, "changed": ["state"]}), False)
                  for v in videos]
        with self._lock:
            self._outgoing += nudges
