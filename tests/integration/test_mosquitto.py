"""Mosquitto as livecomments runs it: the generated files, the broker's access control on
both listeners, the supervisor, and `livecomments up --broker mosquitto`.

Every broker here is the system's `mosquitto` binary started by a fixture from the
generated configuration, on free loopback ports with a temporary data dir.

As in test_broker.py, to show that something is NOT delivered a test publishes the
forbidden message, then a marker the observers may receive, waits for the marker, and
only then checks that the forbidden message never came.
"""

from __future__ import annotations

import inspect
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from bridge.queries import unpublished_events
from broker import acl
from broker import mosquitto as mq
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from infra.ports import free_port, is_free
from livecomments.config import ConfigError, Settings
from livecomments.service import Service
from livecomments.topics import Topics
from livecomments.wire import comment_event, encode_batch, encode_recent
from tests.support.api import Api
from tests.support.mqtt import Collector, publish
from tests.support.peer import INGEST, LIVE, NOT_AUTHORIZED, QUIET, RECENT, SAMPLE, WAIT, Peer
from tests.support.stack import ROOT, Stack, wait_for_port
from tests.support.waiting import eventually

TRANSPORTS = ["tcp", "ws"]


needs_mosquitto = pytest.mark.usefixtures("require_mosquitto")


# --- fixtures ---------------------------------------------------------------------------


class Mosq:
    """A Mosquitto broker from the generated files, and the clients of one test."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(data_dir=data_dir, mqtt_port=free_port(), ws_port=free_port())
        self.limits = mq.Limits.for_settings(self.settings)
        self.process = mq.MosquittoProcess(self.settings)
        self.process.start()
        self.passwords = mq.broker_passwords(data_dir)
        self.peers: list[Peer] = []

    def port(self, transport: str) -> int:
        return self.settings.ws_port if transport == "ws" else self.settings.mqtt_port

    def peer(self, name: str, transport: str = "tcp", **kwargs: object) -> Peer:
        peer = Peer(name, transport="websockets" if transport == "ws" else "tcp", **kwargs)  # type: ignore[arg-type]
        self.peers.append(peer)
        return peer.open(self.port(transport))

    def anonymous(self, transport: str = "tcp", **kwargs: object) -> Peer:
        return self.peer("viewer", transport, **kwargs).expect_connected()

    def account(self, name: str, transport: str = "tcp", **kwargs: object) -> Peer:
        return self.peer(name, transport, username=name, password=self.passwords[name], **kwargs).expect_connected()

    def close(self) -> None:
        closing = [threading.Thread(target=peer.close) for peer in self.peers]  # each may take ~1 s
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(WAIT)
        self.process.stop()


@pytest.fixture
def broker(tmp_path: Path, require_mosquitto: None) -> Iterator[Mosq]:
    m = Mosq(tmp_path / "data")
    yield m
    m.close()


_markers = iter(range(10**9))


def marker(broker: Mosq, *observers: Peer) -> None:
    """The bridge publishes a marker on live/; every observer (subscribed to live/#) must get it."""
    payload = f"marker-{next(_markers)}".encode()
    broker.account("bridge").publish(LIVE, payload)
    for observer in observers:
        observer.wait_message(LIVE, payload)


def never_got(peer: Peer, topic: str, payload: bytes) -> bool:
    return not peer.wait_for(lambda: peer.got(topic, payload), QUIET)


def observers(broker: Mosq, transport: str = "tcp") -> tuple[Peer, Peer]:
    """An anonymous viewer on live/# and a bridge-credentialed spy on live/# and ingest/#."""
    viewer = broker.anonymous(transport)
    assert viewer.subscribe("live/#") == [1]
    spy = broker.account("bridge")
    assert spy.subscribe("live/#", "ingest/#") == [1, 1]
    return viewer, spy


# --- the generated files (no broker) -------------------------------------------------------


def test_root_mosquitto_conf_is_the_rendered_production_example() -> None:
    assert (ROOT / "mosquitto.conf").read_text() == mq.render_production_example(), (
        "mosquitto.conf is out of date: `livecomments mosquitto-config --example > mosquitto.conf`"
    )


def test_production_example_says_what_the_contract_needs() -> None:
    lines = mq.render_production_example().splitlines()
    settings = [line for line in lines if line and not line.startswith("#")]
    for needed in ("per_listener_settings true", "set_tcp_nodelay true", "persistence true", "listener 1883",
                   "listener 8083", "protocol websockets", "user mosquitto",
                   "password_file /etc/livecomments/mosquitto.passwd", "acl_file /etc/livecomments/mosquitto.acl",
                   "persistence_location /var/lib/livecomments/mosquitto"):
        assert needed in settings
    # every listener carries its own authentication and access control
    assert settings.count("allow_anonymous true") == 2
    assert settings.count("password_file /etc/livecomments/mosquitto.passwd") == 2
    assert settings.count("acl_file /etc/livecomments/mosquitto.acl") == 2
    assert any("binds EVERY interface" in line for line in lines)
    assert not any(line.startswith("pattern") for line in lines)


def _mosquitto_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic matching as Mosquitto applies it to ACL lines (`a/#` also matches `a`)."""
    if topic.startswith("$") != topic_filter.startswith("$"):
        return False
    f_levels, t_levels = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)


PATTERNS = "%pattern"  # the key of the pattern lines in _parse_acl's result


def _parse_acl(text: str) -> dict[str | None, list[tuple[str, str]]]:
    """account (None: anonymous, PATTERNS: every client's) -> [(access, filter)], refusing anything
    but topic, pattern and user lines."""
    rules: dict[str | None, list[tuple[str, str]]] = {None: []}
    account: str | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        words = line.split(" ")
        if words[0] == "user":
            account = words[1]
            rules[account] = []
        elif words[0] == "pattern":  # every client's, with its client id in place of %c
            assert len(words) == 3, line
            rules.setdefault(PATTERNS, []).append((words[1], words[2]))
        else:
            assert words[0] == "topic" and len(words) == 3, line
            rules[account].append((words[1], words[2]))
    return rules


def _mosquitto_allows(rules: list[tuple[str, str]], access: str, topic: str) -> bool:
    return any(
        _mosquitto_matches(f, topic) and (granted == "readwrite" or granted == access) for granted, f in rules
    )


@pytest.mark.parametrize("prefixes", [("live/", "ingest/"), ("lc/live/", "lc/in/")])
def test_acl_file_grants_exactly_what_broker_acl_grants(prefixes: tuple[str, str]) -> None:
    topics = Topics(*prefixes)
    rules = _parse_acl(mq.render_acl(topics))
    live, ingest = topics.live_prefix, topics.ingest_prefix
    samples = [f"{live}videos/v1/comments", f"{live}videos/v1/recent", f"{ingest}videos/v1/comments",
               f"{ingest}videos/v1/reactions", "$SYS/broker/uptime", "other/videos/v1/comments",
               "videos/v1/comments", f"{live[:-1]}x/videos/v1/comments"]
    for account, role in [(None, None), ("bridge", ROLE_BRIDGE), ("webapp", ROLE_SERVICE)]:
        for topic in samples:
            assert _mosquitto_allows(rules[account], "read", topic) == acl.is_allowed(
                role, acl.RECEIVE, topic, topics), (account, topic)
            assert _mosquitto_allows(rules[account], "write", topic) == acl.is_allowed(
                role, acl.PUBLISH, topic, topics), (account, topic)
    # presence/: the pattern lets every client announce itself; the bridge reads (and writes) it all
    patterns = [(access, f.replace("%c", "me")) for access, f in rules[PATTERNS]]
    assert patterns == [("write", "presence/videos/+/me")]
    for account, role in [(None, None), ("bridge", ROLE_BRIDGE), ("webapp", ROLE_SERVICE)]:
        for topic in ("presence/videos/v1/me", "presence/videos/v1/other", "presence/x"):
            mosquitto = _mosquitto_allows(rules[account] + patterns, "write", topic)
            assert mosquitto == acl.is_allowed(role, acl.PUBLISH, topic, topics, "me"), (account, topic)
            assert _mosquitto_allows(rules[account], "read", topic) == acl.is_allowed(
                role, acl.RECEIVE, topic, topics, "me"), (account, topic)
    for topic in samples:  # the Mosquitto-only accounts
        assert _mosquitto_allows(rules[mq.ACCOUNT_EDGE], "read", topic) == topic.startswith(live)
        assert _mosquitto_allows(rules[mq.ACCOUNT_OPERATOR], "read", topic) == topic.startswith("$SYS/")
        assert not _mosquitto_allows(rules[mq.ACCOUNT_EDGE], "write", topic)
        assert not _mosquitto_allows(rules[mq.ACCOUNT_OPERATOR], "write", topic)
    assert _mosquitto_allows(rules[mq.ACCOUNT_EDGE], "write", "presence/videos/v1/anyone")  # its viewers'
    assert not _mosquitto_allows(rules[mq.ACCOUNT_EDGE], "read", "presence/videos/v1/anyone")


@pytest.mark.parametrize(
    "overrides",
    [{"live_prefix": "live stream/"}, {"data_dir": Path("/tmp/a\nuser root")}, {"host": "127.0.0.1 8"}],
)
def test_values_that_would_break_a_mosquitto_file_are_refused(tmp_path: Path, overrides: dict[str, object]) -> None:
    settings = Settings(data_dir=tmp_path / "d").with_overrides(**overrides)
    files = mq.MosquittoFiles.under(settings.data_dir / "mosquitto")
    with pytest.raises(ConfigError):
        mq.render_config(mq.single_broker_config(settings, files, bind=settings.host))
        mq.render_acl(settings.topics)


def _edge_config(link: mq.CoreLink) -> mq.BrokerConfig:
    files = mq.MosquittoFiles.under(Path("/srv/edge"))
    return replace(mq.single_broker_config(Settings(), files, run_as="mosquitto"), core_links=(link,))


def test_an_edge_link_to_the_core_renders_as_a_mosquitto_bridge() -> None:
    link = mq.CoreLink(("core-a:1883", "core-b:1883"), "livecomments-edge-1", "edge-1.local-x", "secret")
    lines = mq.render_config(_edge_config(link)).splitlines()
    for line in ("connection core", "address core-a:1883 core-b:1883", "remote_clientid livecomments-edge-1",
                 "local_clientid edge-1.local-x", f"remote_username {mq.ACCOUNT_EDGE}", "remote_password secret",
                 "cleansession true", "restart_timeout 1 15", "topic live/# in 1"):
        assert line in lines, line
    assert "connection core" not in mq.render_config(replace(_edge_config(link), core_links=()))
    for broken in (replace(link, addresses=()), replace(link, password="two words")):
        with pytest.raises(ConfigError):
            mq.render_config(_edge_config(broken))


def _worst_comment(seq: int) -> dict[str, object]:
    return {
        "id": "0" * 26, "video_id": "v" * 64, "seq": seq, "parent_id": "1" * 26,
        "user": {"id": "u" * 64, "name": "\U0001f600" * 50}, "text": "\U0001f600" * 500,
        "ts": 2**53, "reply_count": 2**31, "reactions": dict.fromkeys(("like", "love", "haha", "wow", "sad", "angry"),
                                                                      2**31),
    }


def test_size_limits_fit_the_biggest_messages_the_bridge_publishes() -> None:
    assert inspect.signature(unpublished_events).parameters["limit"].default == mq.BRIDGE_EVENTS_PER_MESSAGE
    big_seq = 2**62
    event = comment_event(big_seq, _worst_comment(big_seq))
    assert len(encode_batch("v" * 64, [event])) - len(encode_batch("v" * 64, [])) <= mq.EVENT_MAX_BYTES
    for recent_size in (50, 1000):
        settings = Settings(recent_size=recent_size)
        limits = mq.Limits.for_settings(settings)
        batch = encode_batch("v" * 64, [comment_event(big_seq + i, _worst_comment(big_seq + i))
                                        for i in range(mq.BRIDGE_EVENTS_PER_MESSAGE)])
        recent = encode_recent("v" * 64, big_seq, [_worst_comment(big_seq + i) for i in range(recent_size)])
        assert len(batch) <= limits.max_payload and len(recent) <= limits.max_payload
        assert limits.max_packet_size >= limits.max_payload + 65_535 + 2 + 2 + 5  # topic, lengths, id, header
        assert limits.max_payload > 8 * 1024  # the contract's ingest limit fits too
    assert mq.Limits.for_settings(Settings(bridge_batch_max=300)).max_inflight_messages == 600


@needs_mosquitto
def test_files_for_a_data_dir_are_private_and_hold_no_plaintext(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mqtt_port=free_port(), ws_port=free_port())
    files = mq.write_files(settings)
    passwords = mq.broker_passwords(settings.data_dir)
    assert set(passwords) == {"bridge", "webapp", mq.ACCOUNT_EDGE, mq.ACCOUNT_OPERATOR}
    assert mq.broker_passwords(settings.data_dir) == passwords  # generated once
    lines = files.passwd.read_text().splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted(passwords)
    assert all(line.split(":", 1)[1].startswith("$7$") for line in lines)
    assert not any(pw in files.passwd.read_text() for pw in passwords.values())
    for path in (files.passwd, files.acl, files.conf, settings.data_dir / mq.EXTRA_CREDENTIALS_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in files.directory.iterdir()) == ["db", "mosquitto.acl", "mosquitto.conf",
                                                                  "mosquitto.passwd"]
    conf = files.conf.read_text()
    assert f"listener {settings.mqtt_port} 127.0.0.1" in conf and f"listener {settings.ws_port} 127.0.0.1" in conf
    assert f"password_file {files.passwd}" in conf and f"acl_file {files.acl}" in conf


# --- anonymous clients publish nothing (on both listeners) ------------------------------------


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("topic", [LIVE, RECENT, SAMPLE, INGEST])
def test_anonymous_publish_reaches_no_one(broker: Mosq, transport: str, topic: str, qos: int) -> None:
    viewer, spy = observers(broker, transport)
    attacker = broker.anonymous(transport)
    attacker.publish(topic, b"forged", qos=qos, retain=True)  # QoS 1: still PUBACKed
    marker(broker, viewer, spy)
    assert never_got(spy, topic, b"forged")
    assert b"forged" not in viewer.payloads()
    late = broker.anonymous(transport)  # and nothing was retained
    assert late.subscribe("live/#") == [1]
    marker(broker, late)
    assert b"forged" not in late.payloads()


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_anonymous_will_reaches_no_one(broker: Mosq, transport: str) -> None:
    viewer, spy = observers(broker)
    sneaky = broker.peer("viewer", transport, will_topic=LIVE)
    if not sneaky.wait_connack().is_failure:  # Mosquitto accepts the CONNECT ...
        sock = sneaky.client.socket()
        raw = getattr(sock, "_socket", sock)  # under paho's WebSocket wrapper
        assert isinstance(raw, socket.socket)
        raw.shutdown(socket.SHUT_RDWR)  # ... and a connection lost without DISCONNECT triggers the will
        assert sneaky.disconnected.wait(WAIT)
    marker(broker, viewer, spy)
    assert never_got(spy, LIVE, b"gone")
    assert b"gone" not in viewer.payloads()


# --- anonymous clients read live/ only --------------------------------------------------------


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_anonymous_subscriptions_outside_live_receive_nothing(broker: Mosq, transport: str) -> None:
    viewer = broker.anonymous(transport)
    filters = ("ingest/#", "#", "$SYS/#", "+/videos/#", "ingest/videos/+/comments", "$SYS/broker/uptime", "live/#")
    codes = viewer.subscribe(*filters)
    # Mosquitto 2.0 grants these SUBSCRIBEs and checks every delivery against the ACL instead
    assert codes[-1] == 1
    operator = broker.account(mq.ACCOUNT_OPERATOR)
    operator.subscribe("$SYS/#")
    assert operator.wait_for(lambda: any(m.topic.startswith("$SYS/") for m in operator.messages))
    spy = broker.account("bridge")
    assert spy.subscribe("ingest/#") == [1]
    broker.account("webapp").publish(INGEST, b"submission")
    spy.wait_message(INGEST, b"submission")  # it was published, and the bridge got it
    marker(broker, viewer)
    assert never_got(viewer, INGEST, b"submission")
    assert [m.topic for m in viewer.messages if not m.topic.startswith("live/")] == []


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_anonymous_receives_what_the_bridge_publishes_on_live(broker: Mosq, transport: str) -> None:
    bridge = broker.account("bridge")
    bridge.publish(RECENT, b'{"comments": []}', retain=True)  # before the viewer subscribes
    viewer = broker.anonymous(transport)
    assert viewer.subscribe("live/#") == [1]
    assert viewer.wait_message(RECENT, b'{"comments": []}').retain
    bridge.publish(LIVE, b'{"events": []}')
    assert not viewer.wait_message(LIVE, b'{"events": []}').retain


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_anonymous_follows_the_sample_only_the_bridge_writes(broker: Mosq, transport: str) -> None:
    viewer = broker.anonymous(transport)
    assert viewer.subscribe("live/videos/+/sample", qos=0) == [0]
    broker.account("bridge").publish(SAMPLE, b'{"events": [], "skipped": 3}')
    assert not viewer.wait_message(SAMPLE, b'{"events": [], "skipped": 3}').retain


@needs_mosquitto
def test_retained_ingest_messages_never_reach_viewers(broker: Mosq) -> None:
    spy = broker.account("bridge")
    assert spy.subscribe("ingest/#") == [1]
    broker.account("webapp").publish(INGEST, b"retained submission", retain=True)
    spy.wait_message(INGEST, b"retained submission")
    viewer = broker.anonymous()
    viewer.subscribe("#", "ingest/#")
    marker(broker, viewer)
    assert never_got(viewer, INGEST, b"retained submission")


# --- hostile client ids and usernames ---------------------------------------------------------

HOSTILE = ["+", "#", "live/#", "bridge/x", "ingest/+", "$SYS", "bridge"]


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client_id", HOSTILE)
def test_hostile_client_ids_stay_anonymous(broker: Mosq, transport: str, client_id: str) -> None:
    viewer, spy = observers(broker)
    odd = broker.peer("odd", transport, client_id=client_id).expect_connected()
    odd.subscribe("ingest/#", "#", "$SYS/#")
    odd.publish(LIVE, b"from an odd id", retain=True)
    odd.publish(INGEST, b"odd submission")
    broker.account("webapp").publish(INGEST, b"real submission")
    spy.wait_message(INGEST, b"real submission")
    marker(broker, viewer, spy, odd)
    assert never_got(spy, LIVE, b"from an odd id") and b"from an odd id" not in viewer.payloads()
    assert b"odd submission" not in spy.payloads()
    assert [m.topic for m in odd.messages if not m.topic.startswith("live/")] == []


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hostile_usernames_are_refused(broker: Mosq, transport: str) -> None:
    """With or without a password (even the bridge's): not in the password file, not let in."""
    peers = [
        broker.peer("intruder", transport, username=username, password=password)
        for username in ("bridge/x", "+", "#", "live/#", "bridge#", "%u", "bridge ", "$SYS")
        for password in (broker.passwords["bridge"], None, "")
    ]
    for peer in peers:
        assert peer.wait_connack() == NOT_AUTHORIZED


@needs_mosquitto
def test_bad_credentials_are_refused_at_connect(broker: Mosq) -> None:
    cases = [("bridge", "wrong"), ("webapp", ""), ("nobody", "whatever"), ("bridge", None),
             ("operator", broker.passwords["bridge"]), ("bridge", broker.passwords["webapp"])]  # another's password
    peers = [broker.peer("intruder", username=username, password=password) for username, password in cases]
    for peer in peers:
        assert peer.wait_connack() == NOT_AUTHORIZED


@needs_mosquitto
def test_a_taken_over_session_gains_the_thief_nothing(broker: Mosq) -> None:
    """Mosquitto 2.0 lets any client take a connected client's id (and kick it off): docs/operations.md.
    What the session was subscribed to is still checked against the thief's rights."""
    owner = broker.account("bridge", client_id="bridge-core", clean_session=False)
    assert owner.subscribe("ingest/#") == [1]
    thief = broker.peer("thief", client_id="bridge-core", clean_session=False).expect_connected()
    thief.subscribe("live/#")
    broker.account("webapp").publish(INGEST, b"for the bridge only")
    marker(broker, thief)
    assert never_got(thief, INGEST, b"for the bridge only")


# --- only the bridge writes live/ ---------------------------------------------------------------


@needs_mosquitto
@pytest.mark.parametrize("account", ["webapp", mq.ACCOUNT_EDGE, mq.ACCOUNT_OPERATOR])
def test_other_accounts_cannot_publish_on_live(broker: Mosq, account: str) -> None:
    viewer, spy = observers(broker)
    broker.account(account).publish(LIVE, b"not the bridge", retain=True)
    marker(broker, viewer, spy)
    assert never_got(viewer, LIVE, b"not the bridge")
    assert b"not the bridge" not in spy.payloads()


@needs_mosquitto
@pytest.mark.parametrize("account", ["webapp", mq.ACCOUNT_EDGE, mq.ACCOUNT_OPERATOR])
def test_only_the_bridge_reads_ingest(broker: Mosq, account: str) -> None:
    reader = broker.account(account)
    reader.subscribe("ingest/#", "live/#")
    spy = broker.account("bridge")
    spy.subscribe("ingest/#")
    broker.account("webapp").publish(INGEST, b"submission")
    spy.wait_message(INGEST, b"submission")
    if account != mq.ACCOUNT_OPERATOR:
        marker(broker, reader)
    assert never_got(reader, INGEST, b"submission")


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bridge_publishes_on_live_and_webapp_on_ingest(broker: Mosq, transport: str) -> None:
    viewer, spy = observers(broker, transport)
    broker.account("webapp", transport).publish(INGEST, b"submission")
    spy.wait_message(INGEST, b"submission")
    broker.account("bridge", transport).publish(LIVE, b"approved")
    viewer.wait_message(LIVE, b"approved")
    spy.wait_message(LIVE, b"approved")


@needs_mosquitto
def test_bridge_cannot_publish_on_ingest(broker: Mosq) -> None:
    viewer, spy = observers(broker)
    broker.account("bridge").publish(INGEST, b"bridge on ingest")
    marker(broker, viewer, spy)
    assert never_got(spy, INGEST, b"bridge on ingest")


# --- sizes ------------------------------------------------------------------------------------


@needs_mosquitto
def test_an_ingest_packet_over_the_limit_disconnects_its_sender_and_reaches_no_one(broker: Mosq) -> None:
    spy = broker.account("bridge")
    spy.subscribe("ingest/#")
    webapp = broker.account("webapp")
    webapp.client.publish(INGEST, b"y" * (broker.limits.max_packet_size - len(INGEST) - 4), qos=1)
    assert webapp.disconnected.wait(WAIT)
    broker.account("webapp").publish(INGEST, b"after")
    spy.wait_message(INGEST, b"after")
    assert spy.payloads() == [b"after"]


@needs_mosquitto
def test_the_largest_bridge_message_reaches_viewers(broker: Mosq) -> None:
    tcp_viewer = broker.anonymous()
    tcp_viewer.subscribe("live/#")
    ws_viewer = broker.anonymous("ws")
    ws_viewer.subscribe(RECENT)  # not the largest: it would take a minute over WebSocket
    bridge = broker.account("bridge")
    largest = b"z" * broker.limits.max_payload
    bridge.publish(LIVE, largest)
    assert tcp_viewer.wait_for(lambda: any(m.payload == largest for m in tcp_viewer.messages)), "not delivered"
    # Mosquitto 2.0.11 sends a WebSocket message in pieces, one per pass of its event loop
    # (up to 100 ms apart on an idle broker): ~45 KB/s, see docs/operations.md. A modest one:
    modest = b"w" * 12_000
    bridge.publish(RECENT, modest)
    assert ws_viewer.wait_for(lambda: any(m.payload == modest for m in ws_viewer.messages)), "not delivered"


# --- the supervisor ---------------------------------------------------------------------------


def test_restart_budget_backs_off_and_gives_up_after_too_many_deaths_within_the_window() -> None:
    budget = mq.RestartBudget(mq.RestartPolicy(max_restarts=3, window_s=10, base_s=0.5, cap_s=1.5))
    assert [budget.after_death(t) for t in (0.0, 1.0, 2.0)] == [0.5, 1.0, 1.5]  # doubling, capped
    assert budget.after_death(3.0) is None and budget.recent == 4  # a fourth death within 10 s
    later = mq.RestartBudget(mq.RestartPolicy(max_restarts=1, window_s=10))
    assert later.after_death(0.0) is not None
    assert later.after_death(10.5) is not None and later.recent == 1  # the first death left the window


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@needs_mosquitto
def test_process_listens_restarts_after_a_crash_and_stops(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mqtt_port=free_port(), ws_port=free_port())
    process = mq.MosquittoProcess(settings, policy=mq.RestartPolicy(base_s=0.1))
    process.start()
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert soft == hard or soft >= 1 << 20 or hard == resource.RLIM_INFINITY
        first = process.pid
        assert first is not None
        bridge = mq.broker_passwords(settings.data_dir)["bridge"]
        os.kill(first, signal.SIGKILL)
        eventually(lambda: process.pid not in (None, first) and not _refused(settings.mqtt_port)
                   and not _refused(settings.ws_port), WAIT, "not restarted")
        assert process.restarts == 1 and process.is_alive()
        viewer = Collector(settings.ws_port, "live/#", transport="websockets")
        publish(settings.mqtt_port, LIVE, b"after the crash", "bridge", bridge)
        viewer.wait_for(lambda m: any(x.payload == b"after the crash" for x in m))
        viewer.close()
        before = process.pid
        process.restart()
        assert process.pid not in (None, before) and process.restarts == 1  # a planned restart is not a crash
    finally:
        process.stop()
    assert not process.is_alive()
    assert is_free("127.0.0.1", settings.mqtt_port) and is_free("127.0.0.1", settings.ws_port)
    assert "terminating" in (settings.data_dir / "mosquitto" / "mosquitto.log").read_text()


@needs_mosquitto
def test_process_is_a_service(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mqtt_port=free_port(), ws_port=free_port())
    process = mq.MosquittoProcess(settings)
    assert isinstance(process, Service) and process.name == "mosquitto"
    assert not process.is_alive()
    process.stop()  # before start: nothing to stop, and start still works
    process.start()
    try:
        assert process.is_alive() and not _refused(settings.mqtt_port)
    finally:
        process.stop()
    assert not process.is_alive() and process.pid is None and _refused(settings.mqtt_port)
    process.stop()  # twice: a no-op
    assert not process.is_alive()


@needs_mosquitto
def test_process_gives_up_after_too_many_crashes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mqtt_port=free_port(), ws_port=free_port())
    process = mq.MosquittoProcess(settings, policy=mq.RestartPolicy(max_restarts=2, window_s=60, base_s=0.05))
    process.start()
    try:
        for _ in range(3):
            pid = eventually(lambda: process.pid, WAIT, "no mosquitto running", interval=0.02)
            os.kill(pid, signal.SIGKILL)
            eventually(lambda pid=pid: process.pid != pid, WAIT, "the killed mosquitto is still the one", interval=0.02)
        assert process.gave_up.wait(WAIT)
        assert not process.is_alive() and process.restarts == 2
    finally:
        process.stop()


@needs_mosquitto
def test_process_reports_a_taken_port(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mqtt_port=free_port(), ws_port=free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.ws_port))
        taken.listen()
        with pytest.raises(mq.MosquittoStartError, match=f"127.0.0.1:{settings.ws_port}.*taken"):
            mq.MosquittoProcess(settings).start()


@needs_mosquitto
def test_process_reports_a_broken_config_with_the_log(tmp_path: Path) -> None:
    conf = tmp_path / "broken.conf"
    conf.write_text("no_such_option true\n")
    process = mq.SupervisedBroker("broken", conf, [("127.0.0.1", free_port())], tmp_path / "broken.log")
    with pytest.raises(mq.MosquittoStartError, match="no_such_option"):
        process.start()
    assert not process.is_alive()


# --- the commands -------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    return subprocess.run([sys.executable, "-m", "livecomments", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **(env or {})}, timeout=60)


def test_mosquitto_config_example_prints_the_root_file() -> None:
    done = _cli("mosquitto-config", "--example")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "mosquitto.conf").read_text()


@needs_mosquitto
def test_mosquitto_config_writes_files_mosquitto_runs(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "etc"
    mqtt_port, ws_port = free_port(), free_port()
    done = _cli("mosquitto-config", "--data-dir", str(data_dir), "--out", str(out),
                "--mqtt-port", str(mqtt_port), "--ws-port", str(ws_port))
    assert done.returncode == 0, done.stderr
    assert f"mosquitto -c {out.resolve() / 'mosquitto.conf'}" in done.stdout
    process = mq.SupervisedBroker("operator-run", out / "mosquitto.conf",
                                  [("127.0.0.1", mqtt_port), ("127.0.0.1", ws_port)], tmp_path / "m.log")
    process.start()
    try:
        viewer = Collector(ws_port, "live/#", transport="websockets")
        publish(mqtt_port, LIVE, b"hello", "bridge", mq.broker_passwords(data_dir)["bridge"])
        viewer.wait_for(lambda m: any(x.payload == b"hello" for x in m))
        viewer.close()
    finally:
        process.stop()


@needs_mosquitto
@pytest.mark.slow
def test_up_with_mosquitto_serves_a_post_end_to_end_and_stops_on_sigterm(stack: Stack) -> None:
    data_dir = stack.data_dir / "up"
    log = (stack.data_dir / "up.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "livecomments", "up", "--broker", "mosquitto", "--data-dir", str(data_dir),
         "--http-port", str(stack.http_port), "--mqtt-port", str(stack.mqtt_port), "--ws-port", str(stack.ws_port)],
        env={k: v for k, v in stack.env.items() if not k.startswith("LIVECOMMENTS_")},
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    try:
        for port in (stack.http_port, stack.mqtt_port, stack.ws_port):
            wait_for_port(port, proc=proc)
        token = _cli("token", "alice", "--name", "Alice", "--role", "admin", "--data-dir", str(data_dir))
        auth = {"Authorization": f"Bearer {token.stdout.strip()}"}
        api = Api(f"http://127.0.0.1:{stack.http_port}", secret="")
        api.wait_ready()
        assert requests.post(f"{api.base}/api/videos", json={"id": "v1", "title": "T"}, headers=auth,
                             timeout=10).status_code == 201
        live = Collector(stack.ws_port, "live/videos/v1/comments", transport="websockets")
        r = requests.post(f"{api.base}/api/videos/v1/comments", json={"text": "hello mosquitto"}, headers=auth,
                          timeout=10)
        assert r.status_code == 202, r.text
        live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) == 1)
        assert live.events("live/videos/v1/comments")[0]["comment"]["text"] == "hello mosquitto"
        # the broker really is Mosquitto, with its access control
        assert "mosquitto version 2." in (data_dir / "mosquitto" / "mosquitto.log").read_text()
        forger = Peer("forger").open(stack.mqtt_port).expect_connected()
        forger.publish("live/videos/v1/comments", b'{"video_id": "v1", "events": []}')
        forger.close()
        r = requests.post(f"{api.base}/api/videos/v1/comments", json={"text": "second"}, headers=auth, timeout=10)
        assert r.status_code == 202, r.text
        live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) == 2)
        assert all(m.json()["events"] for m in live.on("live/videos/v1/comments"))  # not the forged one
        live.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
    out = (stack.data_dir / "up.log").read_text()
    assert code == 0, out
    assert "broker: Mosquitto" in out
    assert f"http://127.0.0.1:{stack.http_port}" in out and f"ws://127.0.0.1:{stack.ws_port}/mqtt" in out
    assert "Traceback" not in out
    for port in (stack.http_port, stack.mqtt_port, stack.ws_port):
        assert is_free("127.0.0.1", port)
    assert "terminating" in (data_dir / "mosquitto" / "mosquitto.log").read_text()


# --- presence/: a client announces only itself; only the bridge reads it --------------------------


@needs_mosquitto
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_presence_reaches_the_bridge_only(broker: Mosq, transport: str) -> None:
    """The `%c` pattern: an announcement for another client id reaches no one, a viewer's
    presence/# gets nothing (Mosquitto grants the SUBSCRIBE and checks every delivery), the bridge
    account gets a viewer's own announcement. Mosquitto cannot drop a retained, QoS 1 or large
    one per topic: the counter does (test_presence), and no viewer can read it."""
    nosy = broker.anonymous(transport)
    nosy.subscribe("presence/#", "presence/videos/+/+", "live/#")
    spy = broker.account("bridge")
    assert spy.subscribe("presence/#") == [1]
    me = broker.anonymous(transport, client_id="announcer-1")
    own, other = "presence/videos/v1/announcer-1", "presence/videos/v1/somebody-else"
    me.publish(other, b"forged", qos=0)
    me.publish("presence/videos/v1", b"short", qos=0)
    me.publish(own, b"retained", qos=0, retain=True)
    me.publish(own, b"", qos=0)
    spy.wait_message(own, b"")
    assert [m.payload for m in spy.messages] == [b"retained", b""]
    marker(broker, nosy)
    assert not [m for m in nosy.messages if m.topic.startswith("presence/")]
    late = broker.anonymous(transport)  # the retained one is there, but no viewer can read it
    late.subscribe("presence/#", "live/#")
    marker(broker, late)
    assert not [m for m in late.messages if m.topic.startswith("presence/")]
    # and an account announces for its own client id only, as anyone
    web = broker.account("webapp")
    web.publish(other, b"web-forged", qos=0)
    web.publish(f"presence/videos/v1/{web.client._client_id.decode()}", b"web", qos=0)
    spy.wait_message(f"presence/videos/v1/{web.client._client_id.decode()}", b"web")
    assert not spy.got(other, b"web-forged")
