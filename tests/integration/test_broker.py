"""The embedded broker's access control, end to end: `livecomments broker` as a process,
real paho-mqtt clients over TCP and WebSocket.

To show that something is NOT delivered, a test publishes the forbidden message, then
a marker on a topic the observer may receive (after the forbidden one was acknowledged),
waits for the marker, and only then checks that the forbidden message never came.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import embedded
from broker.plugins import UserStore
from infra.credentials import ensure_credentials, hash_password
from infra.ports import free_port
from livecomments.config import Settings
from livecomments.service import Service
from tests.support.peer import INGEST, LIVE, NOT_AUTHORIZED, QUIET, RECENT, SAMPLE, WAIT, Peer
from tests.support.stack import ROOT, Stack
from tests.support.waiting import eventually


class Net:
    """The broker under test and the clients of one test."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.service = stack.broker()
        self.passwords = ensure_credentials(stack.data_dir).passwords
        self.peers: list[Peer] = []

    def peer(self, name: str, *, ws: bool = False, **kwargs: object) -> Peer:
        transport = "websockets" if ws else "tcp"
        peer = Peer(name, transport=transport, **kwargs)  # type: ignore[arg-type]
        self.peers.append(peer)
        return peer.open(self.stack.ws_port if ws else self.stack.mqtt_port)

    def anonymous(self, *, ws: bool = False) -> Peer:
        return self.peer("viewer", ws=ws).expect_connected()

    def account(self, name: str, **kwargs: object) -> Peer:
        return self.peer(name, username=name, password=self.passwords[name], **kwargs).expect_connected()

    def close(self) -> None:
        for peer in self.peers:
            peer.close()


@pytest.fixture
def net(stack: Stack) -> Iterator[Net]:
    n = Net(stack)
    yield n
    n.close()


_markers = itertools.count()


def marker(net: Net, *observers: Peer) -> None:
    """The bridge publishes a marker on live/; every observer (subscribed to live/#) must get it."""
    payload = f"marker-{next(_markers)}".encode()
    bridge = net.account("bridge")
    bridge.publish(LIVE, payload)
    for observer in observers:
        observer.wait_message(LIVE, payload)


def never_got(peer: Peer, topic: str, payload: bytes) -> bool:
    return not peer.wait_for(lambda: peer.got(topic, payload), QUIET)


def observers(net: Net) -> tuple[Peer, Peer]:
    """An anonymous viewer on live/# and a bridge-credentialed client on live/# and ingest/#."""
    viewer = net.anonymous()
    assert viewer.subscribe("live/#") == [1]
    spy = net.account("bridge")
    assert spy.subscribe("live/#", "ingest/#") == [1, 1]
    return viewer, spy


# --- anonymous clients publish nothing ---------------------------------------------


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("topic", [LIVE, RECENT, SAMPLE, INGEST])
def test_anonymous_publish_reaches_no_one(net: Net, topic: str, qos: int) -> None:
    viewer, spy = observers(net)
    attacker = net.anonymous()
    attacker.publish(topic, b"forged", qos=qos, retain=True)
    marker(net, viewer, spy)
    assert never_got(spy, topic, b"forged")
    assert b"forged" not in viewer.payloads()
    late = net.anonymous()  # and nothing was retained
    assert late.subscribe("live/#") == [1]
    marker(net, late)
    assert b"forged" not in late.payloads()


def test_anonymous_will_is_refused_at_connect(net: Net) -> None:
    """amqtt publishes wills without asking the topic plugins; the broker refuses them at CONNECT."""
    sneaky = net.peer("viewer", will_topic=LIVE)
    assert sneaky.wait_connack() == NOT_AUTHORIZED
    net.account("bridge", will_topic=LIVE)  # the bridge may leave a will on live/


# --- anonymous clients read live/ only ---------------------------------------------


def test_anonymous_subscribe_outside_live_fails_and_receives_nothing(net: Net) -> None:
    viewer = net.anonymous()
    codes = viewer.subscribe("ingest/#", "#", "$SYS/#", "+/videos/#", "ingest/videos/+/comments", "live/#")
    assert codes == [0x80, 0x80, 0x80, 0x80, 0x80, 1]
    bridge = net.account("bridge")
    assert bridge.subscribe("ingest/#") == [1]
    webapp = net.account("webapp")
    webapp.publish(INGEST, b"submission")
    bridge.wait_message(INGEST, b"submission")  # it was published, and the bridge got it
    marker(net, viewer)
    assert never_got(viewer, INGEST, b"submission")
    assert all(not m.topic.startswith(("ingest/", "$")) for m in viewer.messages)


def test_anonymous_receives_what_the_bridge_publishes_on_live(net: Net) -> None:
    bridge = net.account("bridge")
    bridge.publish(RECENT, b'{"comments": []}', retain=True)  # before the viewer subscribes
    viewer = net.anonymous()
    assert viewer.subscribe("live/#") == [1]
    retained = viewer.wait_message(RECENT, b'{"comments": []}')
    assert retained.retain
    bridge.publish(LIVE, b'{"events": []}')
    live = viewer.wait_message(LIVE, b'{"events": []}')
    assert not live.retain


def test_anonymous_follows_the_sample_only_the_bridge_writes(net: Net) -> None:
    viewer = net.anonymous()
    assert viewer.subscribe("live/videos/+/sample", qos=0) == [0]
    net.account("bridge").publish(SAMPLE, b'{"events": [], "skipped": 3}')
    assert not viewer.wait_message(SAMPLE, b'{"events": [], "skipped": 3}').retain


def test_anonymous_can_narrow_its_subscription(net: Net) -> None:
    viewer = net.anonymous()
    assert viewer.subscribe("live/videos/+/comments", "live/videos/v1/recent", qos=0) == [0, 0]
    bridge = net.account("bridge")
    bridge.publish("live/videos/v2/state", b"not for this viewer")
    bridge.publish(RECENT, b"recent")
    bridge.publish(LIVE, b"comment")
    viewer.wait_message(RECENT, b"recent")
    viewer.wait_message(LIVE, b"comment")
    assert b"not for this viewer" not in viewer.payloads()


def test_retained_ingest_messages_never_reach_viewers(net: Net) -> None:
    """amqtt replays, on every connect, the retained messages of every filter anyone subscribed to."""
    bridge = net.account("bridge")
    assert bridge.subscribe("ingest/#") == [1]
    net.account("webapp").publish(INGEST, b"retained submission", retain=True)
    bridge.wait_message(INGEST, b"retained submission")
    viewer = net.anonymous()
    assert viewer.subscribe("live/#") == [1]
    marker(net, viewer)
    assert never_got(viewer, INGEST, b"retained submission")


# --- only the bridge writes live/ ---------------------------------------------------


def test_webapp_cannot_publish_on_live(net: Net) -> None:
    viewer, spy = observers(net)
    webapp = net.account("webapp")
    webapp.publish(LIVE, b"webapp on live", retain=True)
    marker(net, viewer, spy)
    assert never_got(viewer, LIVE, b"webapp on live")
    assert b"webapp on live" not in spy.payloads()


def test_webapp_cannot_read_ingest(net: Net) -> None:
    webapp = net.account("webapp")
    assert webapp.subscribe("ingest/#", "live/#") == [0x80, 1]


def test_bridge_publishes_on_live_and_reads_ingest(net: Net) -> None:
    viewer, spy = observers(net)
    net.account("webapp").publish(INGEST, b"submission")
    spy.wait_message(INGEST, b"submission")
    net.account("bridge").publish(LIVE, b"approved")
    viewer.wait_message(LIVE, b"approved")
    spy.wait_message(LIVE, b"approved")


def test_bridge_cannot_publish_on_ingest(net: Net) -> None:
    viewer, spy = observers(net)
    net.account("bridge").publish(INGEST, b"bridge on ingest")
    marker(net, viewer, spy)
    assert never_got(spy, INGEST, b"bridge on ingest")


# --- credentials --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [("bridge", "wrong"), ("webapp", ""), ("nobody", "whatever"), ("bridge", None)],
)
def test_bad_credentials_are_refused_at_connect(net: Net, username: str, password: str | None) -> None:
    peer = net.peer("intruder", username=username, password=password)
    assert peer.wait_connack() == NOT_AUTHORIZED
    assert peer.disconnected.wait(WAIT)


def test_the_right_password_of_another_account_is_refused(net: Net) -> None:
    peer = net.peer("intruder", username="bridge", password=net.passwords["webapp"])
    assert peer.wait_connack() == NOT_AUTHORIZED


def test_a_session_cannot_be_taken_over_by_another_account(net: Net) -> None:
    bridge = net.account("bridge", client_id="bridge-core", clean_session=False)
    assert bridge.subscribe("ingest/#") == [1]
    for kwargs in ({}, {"username": "webapp", "password": net.passwords["webapp"]}):
        for clean in (True, False):
            thief = net.peer("thief", client_id="bridge-core", clean_session=clean, **kwargs)
            assert thief.wait_connack() == NOT_AUTHORIZED
    net.account("webapp").publish(INGEST, b"still mine")
    bridge.wait_message(INGEST, b"still mine")  # its session and subscription survived
    assert not bridge.disconnected.is_set()


# --- MQTT over WebSocket ------------------------------------------------------------


def test_websocket_viewer_at_the_mqtt_path(net: Net) -> None:
    viewer = net.anonymous(ws=True)
    assert viewer.subscribe("live/#", "ingest/#") == [1, 0x80]
    net.account("bridge").publish(LIVE, b"over websocket")
    viewer.wait_message(LIVE, b"over websocket")
    viewer.publish(LIVE, b"forged over websocket")
    marker(net, viewer)
    assert never_got(viewer, LIVE, b"forged over websocket")


@pytest.mark.parametrize("path", ["/other", "/", "/mqtt/x", "/MQTT"])
def test_websocket_other_paths_get_no_connack(net: Net, path: str) -> None:
    peer = Peer("wrong-path", transport="websockets", ws_path=path)
    net.peers.append(peer)
    try:
        peer.open(net.stack.ws_port)
    except OSError:
        pass  # refused during the handshake: just as good
    assert peer.disconnected.wait(WAIT), "the broker kept the connection open"
    assert peer.connack is None


# --- the process --------------------------------------------------------------------


def test_broker_prints_its_listeners_and_stops_cleanly(stack: Stack) -> None:
    service = stack.broker()
    assert service.stop() == 0
    out = service.output()
    assert f"MQTT (TCP) listening on mqtt://127.0.0.1:{stack.mqtt_port}" in out
    assert f"MQTT over WebSocket listening on ws://127.0.0.1:{stack.ws_port}/mqtt" in out
    assert "Traceback" not in out


def test_broker_exits_nonzero_when_a_port_is_taken(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", stack.ws_port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "livecomments", "broker"],
            env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    assert done.returncode != 0
    assert f"127.0.0.1:{stack.ws_port}" in done.stderr
    assert "taken" in done.stderr


# --- BrokerThread in process --------------------------------------------------------


def _settings(tmp_path: Path, mqtt_port: int = 0, ws_port: int = 0) -> Settings:
    return Settings(data_dir=tmp_path / "data", mqtt_port=mqtt_port, ws_port=ws_port)


def test_broker_thread_starts_and_stops(tmp_path: Path) -> None:
    thread = embedded.BrokerThread(_settings(tmp_path))
    thread.start()
    try:
        assert thread.mqtt_port and thread.ws_port
        viewer = Peer("viewer").open(thread.mqtt_port).expect_connected()
        assert viewer.subscribe("live/#") == [1]
        viewer.close()
    finally:
        thread.stop()
    assert not thread.is_alive()
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", thread.mqtt_port))


def test_broker_thread_is_a_service(tmp_path: Path) -> None:
    thread = embedded.BrokerThread(_settings(tmp_path))
    assert isinstance(thread, Service) and thread.name == "amqtt"
    assert not thread.is_alive()
    thread.stop()  # before start: nothing to stop, and start still works
    thread.start()
    try:
        assert thread.is_alive()
        Peer("viewer").open(thread.mqtt_port).expect_connected().close()
    finally:
        thread.stop()
    assert not thread.is_alive()
    thread.stop()  # twice: a no-op
    assert not thread.is_alive()


def test_broker_thread_reports_a_port_taken_after_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the port goes between the check and the bind, amqtt's failure is reported, its listeners closed."""
    mqtt_port, ws_port = free_port(), free_port()
    monkeypatch.setattr(embedded.ports, "is_free", lambda host, port: True)
    thread = embedded.BrokerThread(_settings(tmp_path, mqtt_port, ws_port))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ws_port))
        taken.listen()
        with pytest.raises(embedded.BrokerStartError, match="address already in use"):
            thread.start()
    assert not thread.is_alive()

    def closed() -> bool:  # the TCP listener amqtt had opened is closed again
        try:
            with socket.create_connection(("127.0.0.1", mqtt_port), timeout=0.5):
                return False
        except OSError:
            return True

    eventually(closed, WAIT, "the TCP listener was left open")


# --- the users file -----------------------------------------------------------------


def _write_users(path: Path, users: dict[str, tuple[str, str]]) -> None:
    entries = {name: {"role": role, "hash": hash_password(pw, rounds=1000)} for name, (role, pw) in users.items()}
    path.write_text(json.dumps({"users": entries}))


def test_user_store_checks_passwords_and_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broker-users.json"
    _write_users(path, {"bridge": ("bridge", "pw1"), "odd": ("admin", "pw")})
    store = UserStore(path)
    assert store.role_for("bridge", "pw1") == "bridge"
    assert store.role_for("bridge", "pw1") == "bridge"  # remembered
    assert store.role_for("bridge", "pw2") is None
    assert store.role_for("odd", "pw") is None  # unknown roles cannot sign in
    assert store.role_for("nobody", "pw1") is None
    _write_users(path, {"bridge": ("bridge", "pw2")})
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a visible change even on coarse clocks
    assert store.role_for("bridge", "pw1") is None  # the remembered check went with the old hash
    assert store.role_for("bridge", "pw2") == "bridge"
    path.write_text("{not json")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert store.role_for("bridge", "pw2") == "bridge"  # a broken file keeps the previous accounts


@pytest.mark.parametrize("content", ["[]", "{}", '{"users": []}', '{"users": {"a": {"role": "bridge"}}}', "nope"])
def test_user_store_rejects_a_malformed_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broker-users.json"
    path.write_text(content)
    with pytest.raises(ValueError):
        UserStore(path)


def test_broker_thread_reports_a_missing_users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    monkeypatch.setattr(embedded.credentials, "ensure_credentials", lambda data_dir: None)
    with pytest.raises(embedded.BrokerStartError, match="broker-users.json"):
        embedded.BrokerThread(settings).start()


def test_subscription_table_can_change_while_it_is_walked() -> None:
    """amqtt walks its subscription table while awaiting sends; a subscribe meanwhile must not end the walk."""
    from broker.embedded import _SnapshotDict

    table = _SnapshotDict({"live/#": []})
    for _key in table:
        table["live/videos/v1/comments"] = []
    for _key, _value in table.items():
        table["live/videos/v2/comments"] = []
    assert set(table) == {"live/#", "live/videos/v1/comments", "live/videos/v2/comments"}


def test_the_broker_package_imports_nothing_above_it() -> None:
    """Imports point one way: the services (broker/ among them) never import the wiring layer."""
    import ast

    offenders = []
    for path in sorted((ROOT / "broker").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("wiring", "webapp")]
    assert offenders == []


# --- presence/: a client announces only itself; only the bridge reads it -------------------


@pytest.mark.parametrize("ws", [False, True])
def test_presence_reaches_the_bridge_only_and_only_as_announcements(net: Net, ws: bool) -> None:
    """On both listeners: an announcement for another client id, a retained one, a QoS 1 one and an
    oversized one reach no one; a viewer's presence/# gets nothing; the bridge gets the real one."""
    nosy = net.peer("viewer", ws=ws).expect_connected()
    assert nosy.subscribe("presence/#", "presence/videos/+/+", "live/#") == [0x80, 0x80, 1]
    spy = net.account("bridge")
    assert spy.subscribe("presence/#") == [1]
    me = net.peer("viewer", ws=ws, client_id="announcer-1").expect_connected()
    own, other = "presence/videos/v1/announcer-1", "presence/videos/v1/somebody-else"
    me.publish(other, b"forged", qos=0)
    me.publish(own, b"retained", qos=0, retain=True)
    me.publish(own, b"qos1", qos=1)
    me.publish(own, b"x" * 65, qos=0)
    me.publish(own, b"", qos=0)  # the one announcement: it comes after the others, in order
    spy.wait_message(own, b"")
    assert spy.payloads() == [b""]
    marker(net, nosy)
    assert not [m for m in nosy.messages if m.topic.startswith("presence/")]
    late = net.account("bridge")  # nothing was retained
    assert late.subscribe("presence/#") == [1]
    assert not late.wait_for(lambda: bool(late.messages), QUIET)
