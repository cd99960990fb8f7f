"""What the bridge needs of its MQTT connection, in six calls: the IngestBus.

The real one is bridge.paho_bus (paho, through bridge.ingest_client's cheap ingest paths);
a test can put an in-memory one in its place. Every publish is QoS 1. The bus calls the
bridge back through BusHandlers, on the bus's own thread (paho's network thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from paho.mqtt.enums import MQTTErrorCode

# Publish results for which the bus keeps the message and sends it (again, after a reconnect).
QUEUED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


class Published(Protocol):
    """What a publish returns (paho's MQTTMessageInfo is one): a result code, and the message id
    that `BusHandlers.published` will name once the broker has confirmed it."""

    @property
    def rc(self) -> int: ...

    @property
    def mid(self) -> int: ...


@dataclass(frozen=True)
class BusHandlers:
    """The bridge's side of the bus, called on the bus's thread."""

    connected: Callable[[], None]  # (re)connected: subscribe now
    refused: Callable[[str], None]  # the broker refused the connection (why)
    disconnected: Callable[[str], None]  # lost; the bus reconnects on its own (why)
    subscribed: Callable[[], None]  # the subscription is confirmed
    ingest: Callable[[int, bytes, bytes], None]  # a QoS 1 message: (mid, topic as sent, payload)
    message: Callable[[int, int, bytes, bytes], None]  # any other: (mid, qos, topic as sent, payload)
    published: Callable[[int], None]  # the broker confirmed the message of this mid


class IngestBus(Protocol):
    def connect(self) -> None:
        """Start connecting, without waiting; reconnect on its own from then on."""

    def close(self) -> None:
        """Disconnect and stop the bus's thread."""

    def is_connected(self) -> bool: ...

    def subscribe(self, topic_filter: str) -> None:
        """At QoS 1, with a persistent session and manual acks."""

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Published:
        """At QoS 1, without waiting for the broker."""

    def ack_all(self, mids: Iterable[int]) -> None:
        """Acknowledge these QoS 1 ingest messages (of the current connection)."""


BusFactory = Callable[[BusHandlers], IngestBus]  # a bus for these handlers, not yet connected
