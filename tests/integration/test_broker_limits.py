"""The embedded broker under abuse, as it was found: a huge packet announced by an anonymous
client, and a flood of anonymous connections against `livecomments up`."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from bench import mqtt as codec
from broker.mosquitto.sizing import Limits
from infra.ports import free_port
from livecomments.config import Settings
from tests.support.mqtt import Collector
from tests.support.stack import Stack
from tests.support.waiting import eventually

MAX_PACKET = Limits.for_settings(Settings()).max_packet_size
ANNOUNCED = 64 * 1024 * 1024
PINGREQ, PINGRESP = b"\xc0\x00", b"\xd0\x00"


def _publish_header(topic: str, remaining: int) -> bytes:
    """A QoS 0 PUBLISH's fixed header and topic, announcing `remaining` bytes after the fixed header."""
    return b"\x30" + codec.encode_length(remaining) + codec.encode_str(topic)


def _connected(port: int, client_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(codec.connect(client_id))
    assert _read_exactly(sock, 4)[:1] == b"\x20"  # CONNACK
    return sock


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the broker closes the connection within `seconds` (EOF or reset)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_a_packet_over_the_limit_closes_the_connection_before_its_body(stack: Stack) -> None:
    broker = stack.broker()
    assert broker.proc is not None
    rss_before = _rss(broker.proc.pid)

    # after CONNECT: a PUBLISH announcing 64 MB, then a few KB of it
    sock = _connected(stack.mqtt_port, "huge-publish")
    with sock:
        start = time.monotonic()
        try:
            sock.sendall(_publish_header("live/videos/v1/comments", ANNOUNCED) + b"x" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed already
        assert _closed_within(sock, 3), "the broker kept a connection that announced a 64 MB packet"
        assert time.monotonic() - start < 3

    # as the first packet: a CONNECT announcing 64 MB
    with socket.create_connection(("127.0.0.1", stack.mqtt_port), timeout=5) as first:
        first.sendall(b"\x10" + codec.encode_length(ANNOUNCED) + b"\x00" * 4096)
        assert _closed_within(first, 3), "the broker kept a connection whose CONNECT announced 64 MB"

    # over WebSocket: the same PUBLISH, split over several WebSocket messages
    with ws_connect(f"ws://127.0.0.1:{stack.ws_port}/mqtt", subprotocols=["mqtt"], open_timeout=5) as ws:  # type: ignore[list-item]
        ws.send(codec.connect("huge-ws"))
        assert ws.recv(timeout=5)[:1] == b"\x20"
        with pytest.raises(ConnectionClosed):
            ws.send(_publish_header("live/videos/v1/comments", ANNOUNCED))
            for _ in range(4):
                ws.send(b"x" * 4096)
            ws.recv(timeout=3)

    assert _rss(broker.proc.pid) - rss_before < 8 * 1024 * 1024

    with _connected(stack.mqtt_port, "one-over") as over:  # one byte over is refused too
        over.sendall(_publish_header("ingest/videos/v1/comments", MAX_PACKET + 1))
        assert _closed_within(over, 3)

    # a normal client keeps working, and a packet of exactly the limit is accepted
    subscriber = Collector(stack.mqtt_port, "live/videos/v1/comments")
    assert subscriber.granted == [1]
    subscriber.close()
    with _connected(stack.mqtt_port, "at-the-limit") as ok:
        header = _publish_header("ingest/videos/v1/comments", MAX_PACKET)
        topic_bytes = len(header) - 1 - len(codec.encode_length(MAX_PACKET))
        ok.sendall(header + b"x" * (MAX_PACKET - topic_bytes) + PINGREQ)
        ok.settimeout(10)
        assert _read_exactly(ok, 2) == PINGRESP, "a packet at the limit closed the connection"


FLOOD = 2000  # the 2,000, past the 1,024 descriptors at which the web thread once died


def _start_up(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "livecomments", "up", "--data-dir", str(data_dir),
         *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port)))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env,
        preexec_fn=_usual_fd_limit,  # noqa: PLW1509 - before exec, in the child only
    )


def _usual_fd_limit() -> None:
    """The soft limit most systems start a shell with: `up` must raise it itself."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _raise_own_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2500:
        pytest.skip(f"the hard limit on open files is {hard}: too low for {FLOOD} connections")
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.mark.slow
def test_a_flood_of_anonymous_mqtt_connections_leaves_up_posting(tmp_path: Path) -> None:
    """Finding 2: ~1,100 anonymous MQTT connections to `livecomments up` (embedded broker) started
    with a soft limit of 1,024 descriptors; a post still gets its 202 and reaches live/, and `up`
    still runs: the web app has its own process, and the broker raised its limit."""
    _raise_own_fd_limit()
    ports = {name: free_port() for name in ("http", "mqtt", "ws")}
    data_dir = tmp_path / "data"
    proc = _start_up(data_dir, ports)
    sockets: list[socket.socket] = []
    base = f"http://127.0.0.1:{ports['http']}"
    try:
        eventually(lambda: proc.poll() is not None or _ready(base), 60, "up never became ready", interval=0.2)
        assert proc.poll() is None, "up exited during start-up"
        token = subprocess.run(
            [sys.executable, "-m", "livecomments", "token", "alice", "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=30, check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")},
        ).stdout.strip()
        # before the flood: paho's loop uses select(), which cannot watch a descriptor past 1,023
        viewer = Collector(ports["mqtt"], "live/videos/demo/comments")
        try:
            for i in range(FLOOD):
                sockets.append(_connected(ports["mqtt"], f"flood-{i}"))
            posted = requests.post(f"{base}/api/videos/demo/comments", json={"text": "through the flood"},
                                   headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert posted.status_code == 202, posted.text
            comment_id = posted.json()["id"]
            viewer.wait_for(lambda got: any(comment_id in r.payload.decode() for r in got), 20)
        finally:
            viewer.close()
        assert proc.poll() is None, "up exited during the flood"
        assert all(s.fileno() != -1 for s in sockets)
    finally:
        for s in sockets:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(base: str) -> bool:
    try:
        return requests.get(base + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
