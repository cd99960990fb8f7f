"""The bridge's IngestBus on paho: an IngestClient (bridge.ingest_client) with a persistent
session and manual acks, as the bridge's broker account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as paho

from bridge.bus import BusFactory, BusHandlers, Published
from bridge.ingest_client import IngestClient
from infra.mqtt_client import BrokerAddress, make_client

KEEPALIVE_S = 30


class PahoIngestBus:
    def __init__(self, client: IngestClient, addr: BrokerAddress, handlers: BusHandlers) -> None:
        self._client, self._addr, self._handlers = client, addr, handlers
        client.sink = handlers.ingest  # the per-message path: straight to the bridge, no adapter
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish

    @classmethod
    def factory(cls, client_id: str, addr: BrokerAddress) -> BusFactory:
        def make(handlers: BusHandlers) -> PahoIngestBus:
            client = make_client(client_id, addr, clean_session=False, manual_ack=True)
            return cls(IngestClient.adopt(client), addr, handlers)

        return make

    def connect(self) -> None:
        self._client.connect_async(self._addr.host, self._addr.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def is_connected(self) -> bool:
        return self._client.is_connected()

    def subscribe(self, topic_filter: str) -> None:
        self._client.subscribe(topic_filter, qos=1)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Published:
        return self._client.publish(topic, payload, qos=1, retain=retain)

    def ack_all(self, mids: Iterable[int]) -> None:
        self._client.ack_all(mids)

    # -- paho's callbacks (its network thread) ---------------------------------------

    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._handlers.refused(str(reason))
        else:
            self._handlers.connected()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._handlers.disconnected(str(reason))

    def _on_subscribe(self, *_args: Any) -> None:
        self._handlers.subscribed()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        """Anything the IngestClient's sink does not take (a QoS 0 publish on ingest/)."""
        self._handlers.message(message.mid, message.qos, message._topic, bytes(message.payload))

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        self._handlers.published(mid)
