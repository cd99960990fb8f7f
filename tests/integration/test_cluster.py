"""The core + edges topology: generated files, fan-out through Mosquitto bridges, the real
pipeline against the core, and a viewer failing over from a dead edge.

Every broker is the system's `mosquitto`, started by `broker.cluster.Cluster` (or the
`livecomments cluster run` command) on free loopback ports with a temporary data dir.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker import mosquitto as mq
from broker.cluster import Cluster, Knobs, local_plan, status
from infra.ports import is_free
from livecomments.config import Settings
from livecomments.service import Service
from tests.support.api import Api
from tests.support.mqtt import Collector, publish
from tests.support.peer import LIVE, NOT_AUTHORIZED, QUIET, RECENT, SAMPLE, WAIT, Peer
from tests.support.stack import ROOT, Stack
from tests.support.waiting import eventually
from viewer.client import LiveClient
from viewer.sequencer import Event, EventType

pytestmark = pytest.mark.usefixtures("require_mosquitto")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    return subprocess.run([sys.executable, "-m", "livecomments", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)


# --- generated files -----------------------------------------------------------------------


def test_generate_writes_one_directory_per_machine(tmp_path: Path) -> None:
    out, data_dir = tmp_path / "deploy", tmp_path / "data"
    done = _cli("cluster", "generate", "--edges", "2", "--standby", "--out", str(out), "--data-dir", str(data_dir),
                "--core", "10.0.0.1:1883", "--core", "10.0.0.2:1884", "--edge-host", "e1.example",
                "--edge-host", "e2.example", "--bridge-qos", "1", "--restart-timeout", "2,20",
                "--max-queued-messages", "500", "--sys-interval", "5")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["bridge.env", "cluster.json", "core", "core-standby", "edge-1",
                                                     "edge-2", "webapp.env"]
    passwords = mq.broker_passwords(data_dir)
    edge = (out / "edge-1" / "mosquitto.conf").read_text().splitlines()
    for line in ("connection core", "address 10.0.0.1:1883 10.0.0.2:1884", "round_robin false",
                 "remote_clientid livecomments-edge-1", f"remote_username {mq.ACCOUNT_EDGE}",
                 f"remote_password {passwords[mq.ACCOUNT_EDGE]}", "try_private true", "cleansession true",
                 "restart_timeout 2 20", "notifications true", "notifications_local_only true", "topic live/# in 1",
                 "topic presence/# out 0",
                 "listener 1883", "listener 8083", "protocol websockets", "allow_anonymous true",
                 "password_file /etc/livecomments/mosquitto.passwd", "acl_file /etc/livecomments/mosquitto.acl",
                 "max_queued_messages 500", "sys_interval 5", "persistence false", "set_tcp_nodelay true"):
        assert line in edge, line
    local_ids = {line for f in ("edge-1", "edge-2") for line in (out / f / "mosquitto.conf").read_text().splitlines()
                 if line.startswith("local_clientid ")}
    assert len(local_ids) == 2  # secret and distinct
    core = (out / "core" / "mosquitto.conf").read_text().splitlines()
    assert "allow_anonymous false" in core and "allow_anonymous true" not in core
    assert "persistence true" in core and not any(line.startswith(("connection ", "protocol ")) for line in core)
    # the core knows every account, an edge only the operator; hashed, private
    assert _users(out / "core" / "mosquitto.passwd") == sorted(mq.BROKER_ACCOUNTS)
    assert _users(out / "edge-1" / "mosquitto.passwd") == [mq.ACCOUNT_OPERATOR]
    for path in out.rglob("*"):
        if path.is_file() and path.name != "cluster.json":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert [line for line in edge if line.startswith("topic ")] == ["topic live/# in 1", "topic presence/# out 0"]
    edge_acl = (out / "edge-1" / "mosquitto.acl").read_text()
    assert "pattern write presence/videos/+/%c" in edge_acl.splitlines()
    assert "user bridge-edge\ntopic read live/#\ntopic write presence/#" in (out / "core" / "mosquitto.acl").read_text()
    assert "topic read live/#" in edge_acl and "user operator" in edge_acl and "user bridge\n" not in edge_acl
    assert (out / "webapp.env").read_text() == (
        f"LIVECOMMENTS_MQTT_URL=mqtt://webapp:{passwords['webapp']}@10.0.0.1:1883\n")
    topology = json.loads((out / "cluster.json").read_text())
    assert [(n["name"], n["host"], n["mqtt_port"]) for n in topology["nodes"]] == [
        ("core", "10.0.0.1", 1883), ("core-standby", "10.0.0.2", 1884),
        ("edge-1", "e1.example", 1883), ("edge-2", "e2.example", 1883)]
    assert passwords[mq.ACCOUNT_EDGE] not in (out / "cluster.json").read_text()


def _users(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    assert all(line.split(":", 1)[1].startswith("$7$") for line in lines)
    return sorted(line.split(":")[0] for line in lines)


# --- one core, three edges -----------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    settings = Settings(data_dir=tmp_path / "data")
    plan = local_plan(settings, tmp_path / "cluster", 3, base_port=0, knobs=Knobs(sys_interval=1))
    c = Cluster(plan, settings, mq.RestartPolicy(max_restarts=0))
    c.start()
    assert c.wait_bridged(), "the edges' bridges did not come up"
    yield c
    c.stop()


def test_a_cluster_is_a_service(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    c = Cluster(local_plan(settings, tmp_path / "cluster", 1, base_port=0), settings, mq.RestartPolicy(max_restarts=0))
    assert isinstance(c, Service) and c.name == "mosquitto-cluster"
    assert not c.is_alive()
    c.stop()  # before start: nothing to stop, and start still works
    c.start()
    try:
        assert c.is_alive() and list(c.brokers) == ["core", "edge-1"]
        c.brokers["edge-1"].stop()  # one broker gone: the cluster is not alive any more
        assert not c.is_alive()
    finally:
        c.stop()
    assert not c.is_alive() and not any(b.is_alive() for b in c.brokers.values())
    assert all(is_free("127.0.0.1", port) for node in c.plan.nodes for port in (node.mqtt_port, node.ws_port) if port)
    c.stop()  # twice: a no-op
    assert not c.is_alive()


def test_every_edge_gets_every_message_from_the_core_in_order(cluster: Cluster) -> None:
    core = cluster.plan.cores[0]
    passwords = mq.broker_passwords(cluster.settings.data_dir)
    bridge_creds = ("bridge", passwords["bridge"])
    publish(core.mqtt_port, RECENT, b'{"comments": [], "seq": 0}', *bridge_creds, retain=True)
    viewers = [
        Collector(edge.ws_port if i % 2 else edge.mqtt_port, "live/#", transport="websockets" if i % 2 else "tcp")
        for i, edge in enumerate(cluster.plan.edges)
        if edge.ws_port is not None
    ]
    for viewer in viewers:  # every edge holds its own retained copy
        viewer.wait_for(lambda m: any(x.topic == RECENT and x.retain for x in m))
    total = 300
    payloads = [json.dumps({"n": n}).encode() for n in range(total)]
    sender = Peer("bridge", username="bridge", password=passwords["bridge"]).open(core.mqtt_port).expect_connected()
    try:
        infos = [sender.client.publish(LIVE, p, qos=1) for p in payloads]
        infos.append(sender.client.publish(SAMPLE, b'{"events": [], "skipped": 1}', qos=1))  # the sampled feed too
        for info in infos:
            info.wait_for_publish(WAIT)
    finally:
        sender.close()
    for viewer in viewers:
        got = viewer.wait_for(lambda m: len([x for x in m if x.topic == LIVE]) >= total)
        assert [x.payload for x in got if x.topic == LIVE] == payloads
        viewer.wait_for(lambda m: any(x.topic == SAMPLE for x in m))
        viewer.close()


def test_viewers_cannot_reach_the_core_or_write_on_an_edge(cluster: Cluster) -> None:
    core, edge = cluster.plan.cores[0], cluster.plan.edges[0]
    assert edge.ws_port is not None
    refused = Peer("viewer").open(core.mqtt_port)
    assert refused.wait_connack() == NOT_AUTHORIZED  # no anonymous clients on the core
    # an anonymous client presenting the edge's name for the core changes nothing either
    impostor = Peer("edge", client_id=edge.remote_clientid).open(edge.mqtt_port).expect_connected()
    impostor.publish(LIVE, b"forged on an edge")
    watcher = Peer("viewer", transport="websockets").open(edge.ws_port).expect_connected()
    assert watcher.subscribe("live/#") == [1]
    spy = Peer("spy", username="bridge", password=mq.broker_passwords(cluster.settings.data_dir)["bridge"])
    spy.open(core.mqtt_port).expect_connected()
    spy.subscribe("live/#")
    publish(core.mqtt_port, LIVE, b"real", "bridge", mq.broker_passwords(cluster.settings.data_dir)["bridge"])
    watcher.wait_message(LIVE, b"real")
    assert not watcher.wait_for(lambda: watcher.got(LIVE, b"forged on an edge"), QUIET)
    assert not spy.got(LIVE, b"forged on an edge")  # nothing flows out of an edge
    for peer in (refused, impostor, watcher, spy):
        peer.close()


def test_status_reads_sys_from_every_broker(cluster: Cluster) -> None:
    password = mq.broker_passwords(cluster.settings.data_dir)[mq.ACCOUNT_OPERATOR]
    rows = status(cluster.plan.nodes, password)
    assert [r.node.name for r in rows] == ["core", "edge-1", "edge-2", "edge-3"]
    assert all(r.reachable for r in rows), [r.error for r in rows]
    assert rows[0].core_links == {}
    for row in rows[1:]:
        assert row.core_links == {row.node.remote_clientid: True}
        assert float(row.value("load/messages/received/1min")) >= 0
    where = ("--data-dir", str(cluster.settings.data_dir), "--dir", str(cluster.plan.out))
    done = _cli("cluster", "status", *where)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["broker", "role", "address"]
    assert [line.split()[0] for line in lines[1:]] == ["core", "edge-1", "edge-2", "edge-3"]
    assert "livecomments-edge-2=up" in lines[3]
    # an edge gone is reported as such, by its bridge state and by itself
    cluster.brokers["edge-2"].stop()
    assert not cluster.is_alive()
    rows = status(cluster.plan.nodes, password, timeout=1.0)
    assert [r.reachable for r in rows] == [True, True, False, True]
    assert _cli("cluster", "status", *where).returncode == 1


def test_an_edge_reconnects_to_a_restarted_core(cluster: Cluster) -> None:
    passwords = mq.broker_passwords(cluster.settings.data_dir)
    core, edge = cluster.plan.cores[0], cluster.plan.edges[0]
    viewer = Collector(edge.mqtt_port, "live/#")
    cluster.brokers["core"].restart()
    sent = 0

    def came_through() -> bool:  # once the bridge is back, what the core gets reaches the edge
        nonlocal sent
        if any(m.payload == f"after {sent}".encode() for m in viewer.messages):
            return True
        sent += 1
        publish(core.mqtt_port, LIVE, f"after {sent}".encode(), "bridge", passwords["bridge"])
        return False

    eventually(came_through, 30, "the edge did not come back to the core", interval=0.2)
    viewer.close()


def test_cluster_run_prints_the_edges_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "livecomments", "cluster", "run", "--edges", "2", "--data-dir", str(data_dir),
             "--base-port", "0", "--sys-interval", "1"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
    try:

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            return "status: livecomments cluster status" in log.read_text()

        eventually(ready, 30, "`cluster run` never printed its status command")
        text = log.read_text()
        urls = [word for word in text.split() if word.startswith(("ws://", "mqtt://"))]
        assert sum(u.startswith("ws://") and u.endswith("/mqtt") for u in urls) == 2
        done = _cli("cluster", "status", "--data-dir", str(data_dir))
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log.read_text()
    ports = [int(u.rsplit(":", 1)[1].split("/")[0]) for u in urls]
    assert all(is_free("127.0.0.1", p) for p in ports)
    assert "Traceback" not in log.read_text()


# --- the real pipeline against the core ---------------------------------------------------------


class Pipeline:
    def __init__(self, stack: Stack, cluster: Cluster) -> None:
        self.stack, self.cluster = stack, cluster
        self._users = itertools.count()
        core = cluster.plan.cores[0]
        for name, ports in (("bridge", []), ("web", [stack.http_port])):
            svc = stack.service(name, ports=ports)
            svc.env["LIVECOMMENTS_MQTT_URL"] = core.mqtt_url
            svc.start()
        self.api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
        self.api.wait_ready()

    def post(self, text: str) -> str:
        r = self.api.post("v1", text, user=f"viewer{next(self._users)}")  # under the rate limit
        assert r.status_code == 202, r.text
        return str(r.json()["id"])


@pytest.fixture(params=[0])
def pipeline(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    """Core + 3 edges with the bridge and web app on the core; param: how often a dead broker is restarted."""
    settings = Settings(data_dir=stack.data_dir)  # the services' data dir: the same passwords
    plan = local_plan(settings, stack.data_dir / "cluster", 3, base_port=0, knobs=Knobs(sys_interval=1))
    c = Cluster(plan, settings, mq.RestartPolicy(max_restarts=request.param, base_s=0.2))
    c.start()
    assert c.wait_bridged()
    try:
        p = Pipeline(stack, c)
        assert p.api.create_video("v1").status_code == 201
        yield p
    finally:
        stack.stop_all()
        c.stop()


def _seqs(collector: Collector) -> list[int]:
    return [e["seq"] for e in collector.events("live/videos/v1/comments")]


@pytest.mark.slow
def test_comments_posted_over_http_reach_every_edge_in_seq_order(pipeline: Pipeline) -> None:
    edges = pipeline.cluster.plan.edges
    viewers = [Collector(e.mqtt_port if i % 2 else int(e.ws_port or 0), "live/videos/v1/comments",
                         transport="tcp" if i % 2 else "websockets") for i, e in enumerate(edges)]
    total = 30
    ids = [pipeline.post(f"comment {n}") for n in range(total)]
    for viewer in viewers:
        viewer.wait_for(lambda _m, v=viewer: len(_seqs(v)) >= total, timeout=30)  # type: ignore[misc]
        assert _seqs(viewer) == list(range(1, total + 1))
        assert [e["comment"]["id"] for e in viewer.events("live/videos/v1/comments")] == ids
        viewer.close()
    late = Collector(edges[2].mqtt_port, "live/videos/v1/recent")  # a joining viewer, on an edge
    late.wait_for(lambda m: any(x.json().get("seq") == total for x in m))
    assert [c["id"] for c in late.on("live/videos/v1/recent")[-1].json()["comments"]] == ids
    late.close()


@pytest.mark.slow
def test_a_viewer_fails_over_to_another_edge_and_repairs_its_gap(pipeline: Pipeline) -> None:
    edges = pipeline.cluster.plan.edges
    urls = [f"ws://127.0.0.1:{edges[0].ws_port}/mqtt", f"mqtt://127.0.0.1:{edges[1].mqtt_port}"]
    got: list[Event] = []
    cond = threading.Condition()

    def on_event(event: Event) -> None:
        with cond:
            got.append(event)
            cond.notify_all()

    def wait(predicate: Any, what: str, timeout: float = 30.0) -> None:
        with cond:
            assert cond.wait_for(lambda: predicate(got), timeout), f"{what}; got {[(e.type, e.seq) for e in got]}"

    def comment_seqs(events: list[Event]) -> list[int]:
        return [e.seq for e in events if e.type == EventType.COMMENT and e.seq is not None]

    other_edge = Collector(edges[2].mqtt_port, "live/videos/v1/comments")
    client = LiveClient("v1", urls, http=pipeline.api.base, on_event=on_event, backoff_base=2.0, backoff_cap=2.0,
                        rand=lambda: 0.999)  # the failover waits ~2 s: long enough to miss some comments
    client.start()
    try:
        assert client.wait_connected(WAIT) and client.connected_url == urls[0]
        for n in range(3):
            pipeline.post(f"before {n}")
        wait(lambda ev: comment_seqs(ev) == [1, 2, 3], "the first comments")
        edge_pid = pipeline.cluster.brokers["edge-1"].pid
        assert edge_pid is not None
        os.kill(edge_pid, signal.SIGKILL)  # the viewer's edge dies
        wait(lambda ev: any(e.type == EventType.DISCONNECTED for e in ev), "no disconnect")
        for n in range(3):  # missed by the viewer, delivered through the other edges
            pipeline.post(f"during {n}")
        other_edge.wait_for(lambda _m: len(_seqs(other_edge)) >= 6)
        wait(lambda ev: any(e.type == EventType.CONNECTED and e.data.get("url") == urls[1] for e in ev),
             "no failover to the second edge")
        pipeline.post("after")
        wait(lambda ev: comment_seqs(ev)[-1:] == [7], "the comment after the failover")
        assert comment_seqs(got) == list(range(1, 8))  # every comment once, in order, the gap repaired
        assert client.stats.connections == 2 and client.stats.disconnections == 1
        assert client.stats.history_requests >= 1
    finally:
        client.stop()
        other_edge.close()


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", [3], indirect=True)
def test_the_core_killed_mid_stream_loses_no_accepted_comment(pipeline: Pipeline) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from infra.db import make_engine
    from livecomments.models import Comment, LiveEvent

    edge = Collector(pipeline.cluster.plan.edges[0].mqtt_port, "live/videos/v1/comments")
    total, kill_at = 1000, 400
    ids = []
    for n in range(total):
        if n == kill_at:
            core_pid = pipeline.cluster.brokers["core"].pid
            assert core_pid is not None
            os.kill(core_pid, signal.SIGKILL)  # the supervisor restarts it
        ids.append(pipeline.post(f"comment {n}"))  # 202 throughout: the database holds the promise
    engine = make_engine(pipeline.stack.effective_database_url)
    sessions = sessionmaker(engine)

    def settled() -> bool:
        with sessions() as s:
            numbered = s.scalars(select(Comment.seq).where(Comment.seq.is_not(None))).all()
            unpublished = s.scalars(select(LiveEvent.seq).where(LiveEvent.published.is_(False))).all()
        return len(numbered) == total and not unpublished

    eventually(settled, 90, "not every accepted comment was numbered and published", interval=0.2)
    with sessions() as s:
        rows = s.execute(select(Comment.id, Comment.seq)).all()
    engine.dispose()
    assert pipeline.cluster.brokers["core"].pid != core_pid  # it really died and came back
    assert sorted(r.id for r in rows) == sorted(ids)  # each exactly once
    assert sorted(r.seq for r in rows) == list(range(1, total + 1))
    # the edge's viewer got the stream again after the core came back (gaps are repaired from history)
    edge.wait_for(lambda _m: total in _seqs(edge), timeout=60)
    assert _seqs(edge) == sorted(_seqs(edge))
    edge.close()


def test_edges_carry_viewers_announcements_to_the_core(cluster: Cluster) -> None:
    """presence/# flows from each edge to the core (TCP and WebSocket viewers), where only the bridge
    account reads it; an announcement for another client id goes nowhere; nothing flows back."""
    core = cluster.plan.cores[0]
    bridge_password = mq.broker_passwords(cluster.settings.data_dir)["bridge"]
    spy = Peer("spy", username="bridge", password=bridge_password).open(core.mqtt_port).expect_connected()
    assert spy.subscribe("presence/#") == [1]
    peers = [spy]
    expected = []
    for i, edge in enumerate(cluster.plan.edges):
        assert edge.ws_port is not None
        ws = i % 2 == 1
        me = Peer("viewer", client_id=f"edge-viewer-{i}", transport="websockets" if ws else "tcp")
        me.open(edge.ws_port if ws else edge.mqtt_port).expect_connected()
        nosy = Peer("viewer").open(edge.mqtt_port).expect_connected()
        nosy.subscribe("presence/#")
        peers += [me, nosy]
        me.publish(f"presence/videos/v1/someone-else-{i}", b"forged", qos=0)
        me.publish(f"presence/videos/v1/edge-viewer-{i}", b"", qos=0)
        expected.append(f"presence/videos/v1/edge-viewer-{i}")
    assert spy.wait_for(lambda: all(any(m.topic == t for m in spy.messages) for t in expected))
    assert not spy.wait_for(lambda: any(m.payload == b"forged" for m in spy.messages), QUIET)
    # the core's own presence traffic (the bridge clearing a retained one) does not reach the edges
    spy.publish("presence/videos/v1/edge-viewer-0", b"from the core", qos=0)
    for nosy in peers[2::2]:
        assert not nosy.wait_for(lambda n=nosy: any(m.topic.startswith("presence/") for m in n.messages), QUIET)
    for peer in peers:
        peer.close()
