"""A small real MQTT subscriber for tests: collects messages, waits on conditions (never on sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return orjson.loads(self.payload)


class Collector:
    """Subscribes (anonymously unless credentials are given) and records everything it receives."""

    def __init__(self, port: int, *topics: str, username: str | None = None, password: str | None = None,
                 qos: int = 1, transport: str = "tcp") -> None:
        self.messages: list[Received] = []
        self.granted: list[int] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._topics = topics
        self._qos = qos
        self.client = paho.Client(CallbackAPIVersion.VERSION2, transport=transport)  # type: ignore[arg-type]
        if transport == "websockets":
            self.client.ws_set_options(path="/mqtt")
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if topics and not self._subscribed.wait(10):
            raise TimeoutError("no SUBACK")

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if self._topics:
            client.subscribe([(t, self._qos) for t in self._topics])

    def _on_subscribe(self, _c: paho.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        self.granted = [c.value for c in codes]
        self._subscribed.set()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met; got {len(self.messages)} messages")
                self._cond.wait(left)
            return list(self.messages)

    def events(self, topic: str) -> list[dict[str, Any]]:
        """All events received on a live comments topic, in arrival order."""
        return [e for m in self.on(topic) for e in m.json()["events"]]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, topic: str, payload: bytes, username: str | None = None, password: str | None = None,
            qos: int = 1, retain: bool = False) -> None:
    """Publish one message and wait until the broker has it (QoS 1 PUBACK)."""
    client = paho.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
