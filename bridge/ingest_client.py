"""The bridge's paho client, made cheap per ingest message.

paho builds an MQTTMessage for every PUBLISH it receives, and each one makes a
threading.Condition (for its MQTTMessageInfo) that an incoming message never uses; it
reads the socket three or four times per packet (command byte, length bytes, body); and
each manual ack is a packet of its own, written by a send() of its own after a wake-up
byte on paho's socket pair. At ~10,000 messages/s that was most of the bridge's CPU.

IngestClient changes only those paths, and keeps paho's protocol handling, sessions,
in-flight resending and reconnects:

- an incoming QoS 1 PUBLISH (MQTT 3.1.1, manual ack) goes to `sink(mid, topic, payload)`
  as plain values, on paho's network thread; anything else takes paho's own path;
- the socket is read up to RECV_BYTES at a time, and paho's packet reader is served
  from that buffer (loop_read goes on while the buffer holds bytes, so nothing waits in
  select() for bytes already read);
- `ack_all(mids)` queues every PUBACK as one write, with one wake-up.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import paho.mqtt.client as paho
from paho.mqtt import _packet  # paho's own PUBLISH decoder
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

RECV_BYTES = 256 * 1024
_PUBACK = struct.Struct("!BBH")

Sink = Callable[[int, bytes, bytes], None]  # (mid, topic as sent, payload), on paho's network thread


class IngestClient(paho.Client):
    """A paho.Client (built by infra.mqtt_client.make_client, then `adopt`ed)."""

    sink: Sink | None
    _rbuf: bytes
    _rpos: int

    @classmethod
    def adopt(cls, client: paho.Client, sink: Sink | None = None) -> IngestClient:
        """The same client object, with these paths (it must not be connected yet)."""
        client.__class__ = cls
        assert isinstance(client, IngestClient)
        client.sink = sink
        client._rbuf, client._rpos = b"", 0
        return client

    # -- incoming PUBLISH ------------------------------------------------------------

    def _handle_publish(self) -> MQTTErrorCode:
        sink = self.sink
        command = self._in_packet["command"]
        qos = (command & 0x06) >> 1
        if sink is None or qos != 1 or not self._manual_ack or self._protocol == MQTTProtocolVersion.MQTTv5:
            return super()._handle_publish()
        result = _packet.decode_publish(command, self._in_packet["packet"], self._protocol)
        sink(result.mid, result.topic, bytes(result.payload))
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    # -- buffered reads ---------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            data = super()._sock_recv(RECV_BYTES)  # BlockingIOError when there is nothing: paho's AGAIN
            if len(data) <= bufsize:
                return data  # all of it (b"": the connection is gone)
            buf, pos = self._rbuf, self._rpos = data, 0
        out = buf[pos:pos + bufsize]
        self._rpos = pos + len(out)
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._rpos < len(self._rbuf):
            rc = super().loop_read(max_packets)  # bytes already read: no select() would say so
        return rc

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0  # the rest of a gone connection's bytes mean nothing on the next
        super()._sock_close()

    # -- acks -------------------------------------------------------------------------

    def ack_all(self, mids: Iterable[int]) -> None:
        """PUBACK each QoS 1 message id, as one write (the packets are the same bytes as paho's)."""
        packet = b"".join([_PUBACK.pack(paho.PUBACK, 2, mid) for mid in mids])
        if packet:
            self._packet_queue(paho.PUBACK, packet, 0, 0)
