"""A minimal MQTT 3.1.1 codec for load generators: pure functions over bytes.

Only what a cheap viewer and a plain publisher need: CONNECT, SUBSCRIBE, PUBLISH (QoS 0
and 1), PUBACK, PINGREQ and DISCONNECT out; CONNACK, SUBACK, PUBLISH, PUBACK and
PINGRESP in. `Decoder` takes bytes in whatever chunks the transport delivers and yields
whole packets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAX_REMAINING_LENGTH = 268_435_455


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    SUBSCRIBE = 8
    SUBACK = 9
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ProtocolError(ValueError):
    """Bytes that are not MQTT 3.1.1 as this codec reads it."""


@dataclass(frozen=True, slots=True)
class Packet:
    type: int  # a PacketType value
    flags: int  # the low nibble of the fixed header
    body: bytes  # variable header and payload


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int | None


def encode_length(n: int) -> bytes:
    """The fixed header's Remaining Length: 1-4 bytes, 7 bits each, low first."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {n} out of range")
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def encode_str(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError("an MQTT string is at most 65,535 bytes")
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_length(len(body)) + body


def connect(client_id: str, keepalive: int = 60, *, clean: bool = True,
            username: str | None = None, password: str | None = None) -> bytes:
    flags = 0x02 if clean else 0
    payload = encode_str(client_id)
    if username is not None:
        flags |= 0x80
        payload += encode_str(username)
        if password is not None:
            flags |= 0x40
            payload += encode_str(password)
    variable = encode_str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    return _packet(PacketType.CONNECT << 4, variable + payload)


def subscribe(packet_id: int, topics: list[tuple[str, int]]) -> bytes:
    if not topics:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    body = struct.pack("!H", packet_id) + b"".join(encode_str(t) + bytes([q]) for t, q in topics)
    return _packet(PacketType.SUBSCRIBE << 4 | 0x2, body)


def publish(topic: str, payload: bytes, qos: int = 0, *, retain: bool = False, packet_id: int | None = None) -> bytes:
    if qos not in (0, 1):
        raise ValueError("this codec publishes QoS 0 and 1 only")
    if (qos == 0) != (packet_id is None):
        raise ValueError("QoS 1 needs a packet id, QoS 0 has none")
    head = encode_str(topic) + (struct.pack("!H", packet_id) if packet_id is not None else b"")
    return _packet(PacketType.PUBLISH << 4 | qos << 1 | int(retain), head + payload)


def puback(packet_id: int) -> bytes:
    return _packet(PacketType.PUBACK << 4, struct.pack("!H", packet_id))


PINGREQ = bytes([PacketType.PINGREQ << 4, 0])
DISCONNECT = bytes([PacketType.DISCONNECT << 4, 0])


class Decoder:
    """Reassembles packets from a byte stream."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        buf = self._buf
        buf += data
        packets: list[Packet] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            length, shift, i, complete = 0, 0, pos + 1, False
            while i < end:
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("malformed remaining length")
            if not complete or end - i < length:
                break  # the rest of the packet has not arrived yet
            first = buf[pos]
            packets.append(Packet(first >> 4, first & 0x0F, bytes(buf[i:i + length])))
            pos = i + length
        if pos:
            del buf[:pos]
        return packets

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._buf)


def parse_publish(packet: Packet) -> Publish:
    if packet.type != PacketType.PUBLISH:
        raise ProtocolError(f"packet type {packet.type} is not PUBLISH")
    body = packet.body
    if len(body) < 2:
        raise ProtocolError("PUBLISH too short")
    (n,) = struct.unpack_from("!H", body)
    topic = body[2:2 + n].decode()
    pos = 2 + n
    qos = (packet.flags >> 1) & 0x3
    packet_id = None
    if qos:
        (packet_id,) = struct.unpack_from("!H", body, pos)
        pos += 2
    return Publish(topic, body[pos:], qos, bool(packet.flags & 1), packet_id)


def publish_topic(body: bytes) -> bytes:
    """The topic of a PUBLISH body as raw bytes: a cheap check for the hot path."""
    (n,) = struct.unpack_from("!H", body)
    return body[2:2 + n]


def connack_code(packet: Packet) -> int:
    """The CONNACK return code (0: accepted)."""
    if packet.type != PacketType.CONNACK or len(packet.body) != 2:
        raise ProtocolError("not a CONNACK")
    return packet.body[1]


def suback_codes(packet: Packet) -> tuple[int, list[int]]:
    """(packet id, granted QoS per filter; 0x80 means refused)."""
    if packet.type != PacketType.SUBACK or len(packet.body) < 3:
        raise ProtocolError("not a SUBACK")
    (packet_id,) = struct.unpack_from("!H", packet.body)
    return packet_id, list(packet.body[2:])


def puback_id(packet: Packet) -> int:
    if packet.type != PacketType.PUBACK or len(packet.body) != 2:
        raise ProtocolError("not a PUBACK")
    return int(struct.unpack("!H", packet.body)[0])
