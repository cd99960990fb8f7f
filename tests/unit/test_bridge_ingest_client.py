"""The bridge's paho client paths, without a broker: buffered reads and acks in one write."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bridge.ingest_client import IngestClient


def client() -> IngestClient:
    return IngestClient.adopt(paho.Client(CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True))


def test_reads_are_served_from_one_recv_in_the_sizes_paho_asks_for() -> None:
    c = client()
    ours, theirs = socket.socketpair()
    try:
        c._sock = ours
        ours.setblocking(False)
        theirs.sendall(b"abcdefgh")
        assert c._sock_recv(1) == b"a"  # one recv() of up to RECV_BYTES took all eight
        assert c._sock_recv(3) == b"bcd"
        assert c._rpos < len(c._rbuf)  # loop_read goes on: no select() would see these bytes
        assert c._sock_recv(100) == b"efgh"
        theirs.sendall(b"ij")
        assert c._sock_recv(5) == b"ij"  # smaller than asked: handed over as read
        c._sock_close()
        assert c._rbuf == b"" and c._rpos == 0
    finally:
        theirs.close()


def test_acks_are_the_same_packets_queued_as_one() -> None:
    c = client()
    c.ack_all([1, 2, 65535])
    c.ack_all([])
    assert len(c._out_packet) == 1
    packet = c._out_packet[0]["packet"]
    assert packet == b"".join(struct.pack("!BBH", 0x40, 2, mid) for mid in (1, 2, 65535))
