"""Client-id takeover, as it was found (issue 11, finding 4): an anonymous client connecting with
the bridge's client id kicked the bridge off Mosquitto, and on amqtt taking the id first locked the
bridge out. The bridge's id now ends in a suffix derived from the data dir's secret: an anonymous
client with the old fixed id, or the pattern without the suffix, takes nothing, on both brokers;
posts keep reaching live/ and the bridge never loses its connection."""

from __future__ import annotations

import time

from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.peer import Peer
from tests.support.stack import Stack
from tests.support.waiting import eventually

LIVE = "live/videos/v1/comments"
# What an attacker can know from the code: the id as it was, and its pattern without the suffix.
GUESSES = ["livecomments-bridge-0-of-1", "livecomments-bridge-0-of-1-"]


def _thieves(port: int) -> list[Peer]:
    """Anonymous clients with a persistent session under each guessed id, connected (if the
    broker lets them) and left connected."""
    peers = [Peer("thief", client_id=guess, clean_session=False).open(port) for guess in GUESSES]
    for peer in peers:
        peer.wait_connack()
    return peers


def _bridge_connected(stack: Stack, log_name: str) -> int:
    return (stack.data_dir / log_name).read_text(errors="replace").count("connected to the broker; consuming")


def _post_and_see(api: Api, live: Collector, text: str, timeout: float = 5.0) -> None:
    r = api.post("v1", text, user=f"u-{text}")
    assert r.status_code == 202, r.text
    live.wait_for(lambda ms: any(e.get("comment", {}).get("text") == text for e in live.events(LIVE)), timeout=timeout)


def test_a_guessed_client_id_neither_locks_out_nor_kicks_off_the_bridge(stack: Stack, broker: str) -> None:
    first = _thieves(stack.mqtt_port)  # taken first, as after a restart (amqtt's lock-out)
    stack.bridge()
    bridge_log = f"bridge-{len(stack.services) - 1}.log"
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    eventually(lambda: _bridge_connected(stack, bridge_log) >= 1, 15, "the bridge never connected")
    assert api.create_video("v1").status_code == 201
    live = Collector(stack.mqtt_port, LIVE)
    try:
        _post_and_see(api, live, "before")
        for round_ in range(3):  # then connecting again and again (Mosquitto's kick-off)
            peers = _thieves(stack.mqtt_port)
            _post_and_see(api, live, f"during-{round_}")
            for peer in peers:
                peer.close()
        time.sleep(0.5)  # a kicked bridge would log its disconnection by now
        _post_and_see(api, live, "after")
        out = (stack.data_dir / bridge_log).read_text(errors="replace")
        assert "disconnected from the broker" not in out, out[-2000:]
        assert _bridge_connected(stack, bridge_log) == 1, out[-2000:]
    finally:
        live.close()
        for peer in first:
            peer.close()
