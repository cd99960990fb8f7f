"""The embedded broker's WebSocket listener under big messages: a message may carry one whole
packet the TCP listener accepts (max_packet_size after its fixed header), not a byte more, and a
frame announcing far more closes the connection before the broker holds it (the websockets
library's max_size; see broker.embedded.MQTT_FIXED_HEADER_MAX and WS_MAX_QUEUE)."""

from __future__ import annotations

import os
import struct

import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from bench import mqtt as codec
from broker.embedded import MQTT_FIXED_HEADER_MAX
from broker.mosquitto.sizing import Limits
from livecomments.config import Settings
from tests.support.stack import Stack

MAX_PACKET = Limits.for_settings(Settings()).max_packet_size
WS_MAX_SIZE = MAX_PACKET + MQTT_FIXED_HEADER_MAX
ANNOUNCED = 64 * 1024 * 1024
PINGREQ, PINGRESP = b"\xc0\x00", b"\xd0\x00"


def _publish_at_the_limit() -> bytes:
    """A QoS 0 PUBLISH of exactly max_packet_size after its fixed header: WS_MAX_SIZE bytes in all."""
    topic = codec.encode_str("ingest/videos/v1/comments")
    packet = b"\x30" + codec.encode_length(MAX_PACKET) + topic + b"x" * (MAX_PACKET - len(topic))
    assert len(packet) == WS_MAX_SIZE
    return packet


def _opened(port: int, client_id: str, compression: str | None = None) -> ClientConnection:
    """A WebSocket MQTT session; uncompressed unless asked (a browser offers permessage-deflate)."""
    ws = ws_connect(f"ws://127.0.0.1:{port}/mqtt", subprotocols=["mqtt"],  # type: ignore[list-item]
                    open_timeout=5, max_size=None, compression=compression)
    ws.send(codec.connect(client_id))
    assert ws.recv(timeout=5)[:1] == b"\x20"  # CONNACK
    return ws


def _close_code(ws: ClientConnection) -> int | None:
    """The code the broker closed the connection with (waits up to 10 s for it)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_a_frame_announcing_64_mb_closes_the_connection_before_its_body(stack: Stack) -> None:
    broker = stack.broker()
    assert broker.proc is not None
    rss_before = _rss(broker.proc.pid)
    ws = _opened(stack.ws_port, "huge-frame")
    mask = os.urandom(4)
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", ANNOUNCED) + mask  # FIN, binary, masked, 64-bit length
    chunk = bytes(b ^ mask[i % 4] for i, b in enumerate(b"x" * 65_536))
    try:
        ws.socket.sendall(header)
        for _ in range(16):  # 1 MB of the body, if the broker still reads
            ws.socket.sendall(chunk)
    except OSError:
        pass  # closed already (the client's own thread closes the socket on the broker's close frame)
    assert _close_code(ws) == CloseCode.MESSAGE_TOO_BIG
    assert _rss(broker.proc.pid) - rss_before < 8 * 1024 * 1024


def test_a_message_of_one_whole_packet_at_the_limit_is_taken_one_byte_more_is_not(stack: Stack) -> None:
    broker = stack.broker()
    assert broker.proc is not None
    at_the_limit = _publish_at_the_limit()

    with _opened(stack.ws_port, "at-the-limit") as ok:
        ok.send(at_the_limit)  # one message, as MQTT.js sends a packet
        ok.send(PINGREQ)
        assert ok.recv(timeout=20) == PINGRESP, "a message of one packet at the limit closed the connection"

    over = _opened(stack.ws_port, "one-over")
    over.send(at_the_limit + PINGREQ[:1])  # the same packet and one byte: the message is over the limit
    assert _close_code(over) == CloseCode.MESSAGE_TOO_BIG
    assert broker.proc.poll() is None


def test_a_compressed_message_that_inflates_past_the_limit_closes_the_connection(stack: Stack) -> None:
    """permessage-deflate: 64 MB of zeros in a few tens of KB on the wire; the broker stops inflating at the limit."""
    broker = stack.broker()
    assert broker.proc is not None
    rss_before = _rss(broker.proc.pid)
    bomb = _opened(stack.ws_port, "deflate-bomb", compression="deflate")
    topic = codec.encode_str("ingest/videos/v1/comments")
    try:
        bomb.send(b"\x30" + codec.encode_length(ANNOUNCED) + topic + bytes(ANNOUNCED - len(topic)))
    except (ConnectionClosed, OSError):
        pass  # closed already
    assert _close_code(bomb) == CloseCode.MESSAGE_TOO_BIG
    assert _rss(broker.proc.pid) - rss_before < 8 * 1024 * 1024
