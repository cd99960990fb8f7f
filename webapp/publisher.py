"""Handing accepted submissions to the broker: the interface, the paho implementation,
and an in-memory one for tests.

The paho publisher hands submissions to one sender thread, which publishes what has queued
up since its last publish as one ingest message per video (the array form, at most
MAX_INGEST_ARRAY submissions and MAX_INGEST_BYTES each). A quiet video's comment goes out at
once, alone; under load each message carries several, so the broker and the bridge handle
one message (and one PUBACK) for many comments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Protocol

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from ulid import ULID

from infra.mqtt_client import make_client, service_address
from livecomments.config import Settings
from livecomments.topics import Topics
from livecomments.wire import MAX_INGEST_ARRAY, MAX_INGEST_BYTES, Submission

log = logging.getLogger("livecomments.webapp.publisher")

KEEPALIVE_S = 30
INGEST_LINGER_S = 0.005  # at most one ingest message per 5 ms while busy
MAX_QUEUED = 10_000  # submissions waiting for the sender; beyond, a post is left to the sweeper
CLOSE_TIMEOUT_S = 5.0


class PublishError(RuntimeError):
    """The submission was not handed to the broker now (the durable row remains)."""


class Publisher(Protocol):
    def publish_submission(self, sub: Submission) -> None:
        """Queue one submission for the broker without blocking; raise PublishError if it was not sent."""

    def nudge(self, video_id: str, *changed: str) -> None:
        """Tell the bridge what changed ("events", "state", "reactions"; nothing named: all).
        Best effort: the bridge also scans the outbox every second."""

    def publish_reactions(self, video_id: str, counts: dict[str, int]) -> None:
        """Hand aggregated live-reaction clicks to the bridge; raise PublishError if not sent."""

    def is_connected(self) -> bool: ...

    # A Service (livecomments.service): the wiring starts it before the app serves, stops it after.
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def is_alive(self) -> bool: ...


def ingest_messages(subs: Sequence[Submission]) -> Iterator[tuple[str, bytes]]:
    """(video id, payload) per ingest message for these submissions, in their order: one video's
    submissions packed into arrays within the contract's limits; a lone one as a plain object."""
    parts: dict[str, list[bytes]] = {}
    for sub in subs:
        parts.setdefault(sub.video_id, []).append(sub.to_json())
    for video_id, encoded in parts.items():
        chunk: list[bytes] = []
        size = 2  # the brackets
        for part in encoded:
            if chunk and (len(chunk) == MAX_INGEST_ARRAY or size + len(part) + 1 > MAX_INGEST_BYTES):
                yield video_id, _payload(chunk)
                chunk, size = [], 2
            chunk.append(part)
            size += len(part) + 1
        yield video_id, _payload(chunk)


def _payload(chunk: list[bytes]) -> bytes:
    return chunk[0] if len(chunk) == 1 else b"[" + b",".join(chunk) + b"]"


class MqttPublisher:
    """One paho client per process, connected in the background and reconnecting by itself."""

    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self._topics: Topics = settings.topics
        addr = service_address(settings, "webapp")
        # A unique client id: several web app processes must not take over each other's session.
        self._client = make_client(client_id or f"webapp-{ULID()}", addr)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._queue: deque[Submission] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._idle = False  # the sender waits for work (not lingering): posts must wake it
        self._sender = threading.Thread(target=self._send_forever, name="ingest-sender", daemon=True)
        self._addr = addr

    name = "ingest publisher"

    def start(self) -> None:
        """Connect in the background (paho reconnects by itself) and start the sender."""
        if self._sender.is_alive() or self._closed:
            return
        self._client.connect_async(self._addr.host, self._addr.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._sender.start()
        log.info("publishing submissions to mqtt://%s:%d as %s", self._addr.host, self._addr.port, self._addr.username)

    def is_alive(self) -> bool:
        return self._sender.is_alive()

    def _on_connect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        log.info("connected to the broker: %s", reason)

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        log.warning("disconnected from the broker: %s", reason)

    def publish_submission(self, sub: Submission) -> None:
        """Queue for the sender. Refused (the row stays pending for the sweeper) while the broker
        is away or the queue is full: nothing piles up in memory."""
        if not self._client.is_connected():
            raise PublishError("not connected to the broker now")
        with self._wake:
            if len(self._queue) >= MAX_QUEUED:
                raise PublishError(f"{MAX_QUEUED} submissions already wait for the broker")
            self._queue.append(sub)
            if self._idle:  # a lingering sender takes it at its deadline: no wake-up per post
                self._wake.notify()

    def _send_forever(self) -> None:
        sent_at = float("-inf")
        while True:
            with self._wake:
                self._idle = True
                while not self._queue and not self._closed:
                    self._wake.wait()
                self._idle = False
                # Sent a moment ago: let what arrives in the next few ms join this message. A
                # quiet moment's post goes at once; under load one message carries many.
                while (linger := sent_at + INGEST_LINGER_S - time.monotonic()) > 0 and not self._closed:
                    self._wake.wait(linger)
                if not self._queue:
                    return
                batch = list(self._queue)
                self._queue.clear()
            sent_at = time.monotonic()
            self._send(batch)

    def _send(self, batch: Sequence[Submission]) -> None:
        for video_id, payload in ingest_messages(batch):
            info = self._client.publish(self._topics.ingest_comments(video_id), payload, qos=1, retain=False)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                # NO_CONN: paho keeps a QoS 1 message and sends it after reconnecting; the rows
                # are durable and the sweeper re-drives whatever never arrives.
                log.warning("submissions for %s not sent now: %s", video_id, paho.error_string(info.rc))

    def nudge(self, video_id: str, *changed: str) -> None:
        payload = orjson.dumps({"video_id": video_id, "changed": list(changed)})
        self._client.publish(self._topics.ingest_changes(video_id), payload, qos=0, retain=False)

    def publish_reactions(self, video_id: str, counts: dict[str, int]) -> None:
        payload = orjson.dumps({"video_id": video_id, "counts": counts})
        info = self._client.publish(self._topics.ingest_reactions(video_id), payload, qos=1, retain=False)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"not sent to the broker now: {paho.error_string(info.rc)}")

    def is_connected(self) -> bool:
        return bool(self._client.is_connected())

    def stop(self) -> None:
        """Send what is queued, then disconnect (safe twice, or before start)."""
        with self._wake:
            started, self._closed = self._sender.is_alive(), True
            self._wake.notify()
        if not started:
            return
        self._sender.join(CLOSE_TIMEOUT_S)
        self._client.disconnect()
        self._client.loop_stop()


class MemoryPublisher:
    """Records submissions; set ``connected = False`` to simulate a lost broker."""

    def __init__(self) -> None:
        self.submissions: list[Submission] = []
        self.nudges: list[str] = []
        self.changes: list[tuple[str, tuple[str, ...]]] = []
        self.reactions: list[tuple[str, dict[str, int]]] = []
        self.connected = True
        self.closed = False
        self._lock = threading.Lock()

    def publish_submission(self, sub: Submission) -> None:
        if not self.connected:
            raise PublishError("not connected (simulated)")
        with self._lock:
            self.submissions.append(sub)

    def nudge(self, video_id: str, *changed: str) -> None:
        with self._lock:
            self.nudges.append(video_id)
            self.changes.append((video_id, changed))

    def publish_reactions(self, video_id: str, counts: dict[str, int]) -> None:
        if not self.connected:
            raise PublishError("not connected (simulated)")
        with self._lock:
            self.reactions.append((video_id, dict(counts)))

    def is_connected(self) -> bool:
        return self.connected and not self.closed

    name = "memory publisher"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.closed = True

    def is_alive(self) -> bool:
        return not self.closed
