"""A paho client per role for the access-control tests (test_broker, test_mosquitto, test_cluster),
and their timing: WAIT for what must happen, QUIET after the marker for what must not."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from broker import embedded

WAIT = 10.0  # for what must happen
QUIET = 0.3  # after the marker, for what must not happen
# MQTT 3.1.1 CONNACK return code 5; paho reports it as the MQTT 5 reason code "Not authorized" (135).
NOT_AUTHORIZED = ReasonCode(PacketTypes.CONNACK, "Not authorized")
LIVE = "live/videos/v1/comments"
RECENT = "live/videos/v1/recent"
SAMPLE = "live/videos/v1/sample"
INGEST = "ingest/videos/v1/comments"
_ids = itertools.count()


class Peer:
    """A paho client running its own network thread, recording what the broker sends it."""

    def __init__(
        self,
        name: str,
        *,
        username: str | None = None,
        password: str | None = None,
        transport: str = "tcp",
        ws_path: str = embedded.WS_PATH,
        client_id: str | None = None,
        clean_session: bool = True,
        will_topic: str | None = None,
    ) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"{name}-{next(_ids)}",
            clean_session=clean_session,
            protocol=paho.MQTTv311,
            transport=transport,  # type: ignore[arg-type]
        )
        if transport == "websockets":
            self.client.ws_set_options(path=ws_path)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will_topic is not None:
            self.client.will_set(will_topic, b"gone", qos=0, retain=True)
        self.client.reconnect_delay_set(min_delay=30, max_delay=30)  # no retry storms from refused clients
        self._cond = threading.Condition()
        self.connack: ReasonCode | None = None
        self.disconnected = threading.Event()
        self.messages: list[paho.MQTTMessage] = []
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # paho callbacks (network thread)
    def _on_connect(self, _c: paho.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        with self._cond:
            self.connack = rc
            self._cond.notify_all()

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, _rc: ReasonCode, _p: object) -> None:
        self.disconnected.set()

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def _on_subscribe(self, _c: paho.Client, _u: object, mid: int, codes: list[ReasonCode], _p: object) -> None:
        with self._cond:
            self.subacks[mid] = codes
            self._cond.notify_all()

    # test side
    def open(self, port: int) -> Peer:
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_connack(self) -> ReasonCode:
        assert self.wait_for(lambda: self.connack is not None), "no CONNACK"
        assert self.connack is not None
        return self.connack

    def expect_connected(self) -> Peer:
        rc = self.wait_connack()
        assert not rc.is_failure, f"CONNECT refused: {rc}"
        return self

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe in one SUBSCRIBE packet; the SUBACK's return codes, in order."""
        result, mid = self.client.subscribe([(f, qos) for f in filters])
        assert result == paho.MQTT_ERR_SUCCESS
        assert self.wait_for(lambda: mid in self.subacks), f"no SUBACK for {filters}"
        return [code.value for code in self.subacks[mid]]

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT)  # QoS 1: the broker's PUBACK (sent even when it drops the message)
        assert info.is_published()

    def got(self, topic: str, payload: bytes) -> bool:
        with self._cond:
            return any(m.topic == topic and m.payload == payload for m in self.messages)

    def wait_message(self, topic: str, payload: bytes, timeout: float = WAIT) -> paho.MQTTMessage:
        assert self.wait_for(lambda: self.got(topic, payload), timeout), f"{payload!r} never arrived on {topic}"
        with self._cond:
            return next(m for m in self.messages if m.topic == topic and m.payload == payload)

    def payloads(self) -> list[bytes]:
        with self._cond:
            return [m.payload for m in self.messages]
