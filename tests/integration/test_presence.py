"""Who is watching, end to end: viewers announce themselves on a real broker (amqtt, or Mosquitto),
a real bridge process counts them (in-process, or in a real Redis), and `viewers`/`peak_viewers`
reach the retained `state` and GET /api/videos/{v}.

The ACL side (who may publish or read presence/, on every listener of both brokers) is in
test_broker, test_mosquitto and test_cluster; this module is about what gets counted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bench import mqtt as codec
from bench.conn import Endpoint, MqttConnection, open_mqtt, raise_nofile_limit
from broker import mosquitto as mq
from livecomments.config import Settings
from livecomments.presence import presence_topic
from tests.support.api import Api
from tests.support.peer import Peer
from tests.support.stack import ROOT, Stack
from tests.support.waiting import eventually
from viewer.client import LiveClient

_videos = itertools.count()
# Longer than the 5 s between counts, so that one announcement is always counted once.
SHORT_WINDOW_S = 8.0


@dataclass
class Audience:
    """A broker, a bridge (counting), a web app, and one live video."""

    stack: Stack
    api: Api
    video: str
    mosquitto: mq.MosquittoProcess | None = None
    peers: list[Peer] = field(default_factory=list)

    @property
    def state_topic(self) -> str:
        return f"live/videos/{self.video}/state"

    def viewer(self, *, ws: bool = False, client_id: str | None = None) -> Peer:
        """An anonymous MQTT client on the video's state (TCP or WebSocket)."""
        peer = Peer("viewer", transport="websockets" if ws else "tcp", client_id=client_id)
        peer.open(self.stack.ws_port if ws else self.stack.mqtt_port).expect_connected()
        assert peer.subscribe(self.state_topic, qos=0) == [0]
        self.peers.append(peer)
        return peer

    def announce(self, peer: Peer, *, client_id: str | None = None, **kwargs: Any) -> None:
        own = peer.client._client_id.decode()
        peer.publish(presence_topic(self.video, client_id or own), b"", qos=kwargs.pop("qos", 0), **kwargs)

    def video_doc(self) -> dict[str, Any]:
        r = requests.get(f"{self.api.base}/api/videos/{self.video}", timeout=10)
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc

    def viewers(self) -> tuple[int, int]:
        doc = self.video_doc()
        return doc["viewers"], doc["peak_viewers"]

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        if self.mosquitto is not None:
            self.mosquitto.stop()


def start_audience(stack: Stack, broker: str, redis_url: str | None = None, window_s: float = 75.0) -> Audience:
    mosquitto = None
    if broker == "mosquitto":
        mosquitto = mq.MosquittoProcess(Settings(data_dir=stack.data_dir, mqtt_port=stack.mqtt_port,
                                                 ws_port=stack.ws_port))
        mosquitto.start()
    else:
        stack.broker()
    bridge = stack.service("bridge")
    bridge.env["LIVECOMMENTS_PRESENCE_WINDOW_S"] = str(window_s)
    if redis_url:
        bridge.env["LIVECOMMENTS_REDIS_URL"] = redis_url
    bridge.start()
    eventually(lambda: "presence: counting announcements" in bridge.output(), 20, "the counter subscribed")
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    video = f"watched-{next(_videos)}-{secrets.token_hex(3)}"
    assert api.create_video(video).status_code == 201
    return Audience(stack, api, video, mosquitto)


@pytest.fixture(params=["amqtt-in-process", "mosquitto-redis"])
def audience(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Audience]:
    broker, counter = request.param.split("-", 1)
    if broker == "mosquitto":
        request.getfixturevalue("require_mosquitto")
    redis_url = request.getfixturevalue("redis_url") if counter == "redis" else None
    running = start_audience(stack, broker, redis_url)
    yield running
    running.close()


@pytest.fixture
def short_window(stack: Stack) -> Iterator[Audience]:
    running = start_audience(stack, "amqtt", window_s=SHORT_WINDOW_S)
    yield running
    running.close()


def states(peer: Peer, topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in list(peer.messages) if m.topic == topic and m.payload]


def test_five_clients_announcing_three_times_count_five(audience: Audience) -> None:
    watcher = audience.viewer()
    viewers = [audience.viewer(ws=i % 2 == 1) for i in range(5)]  # both listeners
    for _round in range(3):
        for peer in viewers:
            audience.announce(peer)
    assert watcher.wait_for(lambda: any(s["viewers"] == 5 for s in states(watcher, audience.state_topic)), 15), \
        states(watcher, audience.state_topic)
    assert not any(s["viewers"] > 5 for s in states(watcher, audience.state_topic))
    eventually(lambda: audience.viewers() == (5, 5), 10, "GET /api/videos/{v} says 5 viewers, peak 5")
    doc = states(watcher, audience.state_topic)[-1]
    assert doc["peak_viewers"] == 5 and doc["status"] == "live"


def test_a_client_announcing_for_another_id_counts_nothing(audience: Audience) -> None:
    watcher = audience.viewer()
    forger = audience.viewer()
    honest = audience.viewer(ws=True)
    for victim in ("someone-else", "viewer-lookalike", honest.client._client_id.decode()):
        audience.announce(forger, client_id=victim)
    audience.announce(forger, qos=1)  # QoS 1: no announcement either
    audience.announce(honest)
    assert watcher.wait_for(lambda: any(s["viewers"] == 1 for s in states(watcher, audience.state_topic)), 15)
    assert watcher.wait_for(lambda: audience.viewers() == (1, 1), 10)
    watcher.wait_for(lambda: False, 6)  # past the next count: still one
    assert audience.viewers() == (1, 1)


def test_a_retained_announcement_is_not_counted(audience: Audience) -> None:
    watcher = audience.viewer()
    sneaky, honest = audience.viewer(), audience.viewer()
    audience.announce(sneaky, retain=True)
    audience.announce(honest)
    eventually(lambda: audience.viewers() == (1, 1), 15, "one viewer: the retained announcement did not count")
    watcher.wait_for(lambda: False, 6)
    assert audience.viewers() == (1, 1)


def test_viewers_stop_counting_after_the_window(short_window: Audience) -> None:
    audience = short_window
    watcher = audience.viewer()
    for peer in [audience.viewer() for _ in range(3)]:
        audience.announce(peer)
    assert watcher.wait_for(lambda: any(s["viewers"] == 3 for s in states(watcher, audience.state_topic)), 15)
    # nobody announces again: a window later they no longer count (at the next count, 5 s at most)
    assert watcher.wait_for(lambda: states(watcher, audience.state_topic)[-1]["viewers"] == 0, 20)
    assert states(watcher, audience.state_topic)[-1]["peak_viewers"] == 3
    assert audience.viewers() == (0, 3)


def test_the_python_client_announces_itself_after_subscribing(short_window: Audience) -> None:
    audience = short_window
    url = f"mqtt://127.0.0.1:{audience.stack.mqtt_port}"
    client = LiveClient(audience.video, [url], http=audience.api.base, on_event=lambda _e: None)
    with client:
        assert client.wait_connected(10)
        eventually(lambda: audience.viewers()[0] == 1, 15, "the client's announcement counted")
        eventually(lambda: client.viewers == 1 and client.peak_viewers == 1, 10, "the client saw its count")
        assert client.stats.announcements >= 1
    # stopped: it announces no more, and the short window lets it go
    eventually(lambda: audience.viewers() == (0, 1), 20, "gone after the window")


# --- 2,000 viewers ----------------------------------------------------------------------


async def _crowd(endpoint: Endpoint, video: str, n: int, hold: asyncio.Event) -> int:
    """n viewers, 100 connecting at a time: each connects with its own client id, announces itself
    once, and stays until `hold` is set. Returns how many got connected."""
    conns: list[MqttConnection] = []
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> None:
        client_id = f"crowd-{i:05d}-{secrets.token_hex(3)}"
        async with gate:
            conn = await open_mqtt(endpoint, client_id, keepalive=120, timeout=30)
        conn.send(codec.publish(presence_topic(video, client_id), b""))
        conns.append(conn)

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    await hold.wait()
    for conn in conns:
        conn.close()
    return sum(1 for r in results if not isinstance(r, BaseException))


@pytest.mark.usefixtures("require_mosquitto")
def test_two_thousand_viewers_count_within_two_percent(stack: Stack, redis_url: str) -> None:
    """2,000 simulated viewers (an asyncio pool of raw MQTT connections on Mosquitto), counted in
    Redis: exact here (under 10,000); tests/app/test_presence_counters.py covers the estimate."""
    raise_nofile_limit()
    audience = start_audience(stack, "mosquitto", redis_url)
    n = 2_000
    # the crowd's loop runs on a thread of its own: this one may already run one (the browser
    # tests' Playwright, in the same pytest-xdist worker)
    loop = asyncio.new_event_loop()
    hold = asyncio.Event()
    with ThreadPoolExecutor(1) as pool:
        crowd = pool.submit(loop.run_until_complete,
                            _crowd(Endpoint.tcp("127.0.0.1", stack.mqtt_port), audience.video, n, hold))
        try:
            eventually(lambda: audience.viewers()[0] >= 0.98 * n, 60, "2,000 viewers counted", interval=0.5)
            viewers, peak = audience.viewers()
        finally:
            loop.call_soon_threadsafe(hold.set)
            connected = crowd.result(60)
            loop.close()
            audience.close()
    assert connected == n
    assert abs(viewers - n) <= 0.02 * n and peak >= viewers



def test_watch_announces_itself_and_shows_the_count(short_window: Audience, tmp_path: Path) -> None:
    audience = short_window
    err = tmp_path / "watch.err"
    with err.open("wb") as stderr:
        watch = subprocess.Popen(
            [sys.executable, "-m", "livecomments", "watch", audience.video, "--broker",
             f"ws://127.0.0.1:{audience.stack.ws_port}/mqtt", "--http", audience.api.base],
            env=audience.stack.env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
    try:
        eventually(lambda: audience.viewers() == (1, 1), 20, "watch counted")
        eventually(lambda: "· 1 watching (peak 1)" in err.read_text(), 15, "watch shows the count")
    finally:
        watch.send_signal(signal.SIGINT)
        assert watch.wait(15) == 0, err.read_text()
    eventually(lambda: audience.viewers() == (0, 1), 20, "gone after the window")
