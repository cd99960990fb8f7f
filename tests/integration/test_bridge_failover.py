"""A bridge for every partition, always: `livecomments bridge` processes share the partitions
through leases in PostgreSQL. The owner of a partition is SIGKILLed mid-stream and another takes
it over; a third one joins and the partitions are rebalanced; every 202'd comment is stored once
and delivered, each video's seq on live/ gapless and increasing. And /readyz says whether a
bridge holds every partition."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
import requests
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from infra.db import make_engine
from livecomments.config import Partition
from livecomments.models import BridgeLease, Comment
from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import Service, Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

PARTITIONS = 4
TTL_S = 2.5  # the default lease: a SIGKILLed owner's partitions are free after this
LIVENESS_S = 30.0  # generous: the takeover is measured (and printed), not timed here
LIVE = "live/videos/+/comments"


def videos_covering(count: int, per_partition: int = 2) -> list[str]:
    """Video ids, `per_partition` in each partition of `count`."""
    chosen: dict[int, list[str]] = defaultdict(list)
    n = 0
    while any(len(chosen[p]) < per_partition for p in range(count)):
        video = f"v{n}"
        index = next(p for p in range(count) if Partition(p, count).owns(video))
        if len(chosen[index]) < per_partition:
            chosen[index].append(video)
        n += 1
    return [v for p in range(count) for v in chosen[p]]


class TimedCollector(Collector):
    """A Collector that also records when each event arrived, by comment id (first arrival)."""

    def __init__(self, port: int, *topics: str) -> None:
        self.arrived: dict[str, float] = {}
        super().__init__(port, *topics)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        now = time.monotonic()
        if msg.topic.endswith("/comments"):
            for event in orjson.loads(msg.payload).get("events", []):
                self.arrived.setdefault(event["comment"]["id"], now)
        super()._on_message(client, userdata, msg)


@dataclass
class Poster:
    """Posts comments over HTTP, round robin over the videos, one user each, until stopped."""

    api: Api
    videos: list[str]
    accepted: list[tuple[str, str, float]] = field(default_factory=list)  # (video, comment id, when 202'd)
    refused: Counter[int] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            video = self.videos[n % len(self.videos)]
            try:
                r = self.api.post(video, f"comment {n}", user=f"u{n}")
            except requests.RequestException:
                self.refused[0] += 1
            else:
                if r.status_code == 202:
                    self.accepted.append((video, r.json()["id"], time.monotonic()))
                else:
                    self.refused[r.status_code] += 1
            n += 1
            time.sleep(0.01)


def holders(engine: Engine) -> dict[int, str | None]:
    """Each partition's live holder (None: free or expired)."""
    with sessionmaker(engine)() as s:
        now = int(time.time() * 1000)
        rows = s.execute(select(BridgeLease.partition_index, BridgeLease.holder, BridgeLease.expires_at)).all()
    return {p: (h if h is not None and exp > now else None) for p, h, exp in rows}


def pid_of(holder: str) -> int:
    return int(holder.rsplit("-", 2)[1])  # host-pid-random (bridge.partitions.instance_id)


def shares(engine: Engine) -> dict[int, int]:
    """Live partitions per bridge process id."""
    return dict(Counter(pid_of(h) for h in holders(engine).values() if h is not None))


def start_bridge(stack: Stack) -> Service:
    bridge = stack.service("bridge")
    bridge.env.update(LIVECOMMENTS_BRIDGE_PARTITIONS=str(PARTITIONS), LIVECOMMENTS_BRIDGE_LEASE_TTL_S=str(TTL_S))
    return bridge.start()


def test_a_sigkilled_owner_is_replaced_and_a_joining_bridge_gets_its_share(
        stack: Stack, postgres_url: str, broker: str) -> None:
    stack.database_url = postgres_url
    first, second = start_bridge(stack), start_bridge(stack)
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    engine = make_engine(postgres_url)
    try:
        eventually(lambda: sorted(shares(engine).values()) == [2, 2], LIVENESS_S, "two bridges never split 2 and 2")
        api.wait_ready()
        videos = videos_covering(PARTITIONS)
        for video in videos:
            assert api.create_video(video).status_code == 201
        live = TimedCollector(stack.mqtt_port, LIVE)
        poster = Poster(api, videos)
        posting = threading.Thread(target=poster.run, daemon=True)
        posting.start()
        eventually(lambda: len(poster.accepted) >= 60, LIVENESS_S, "posting never got going")

        by_pid = {s.proc.pid: s for s in (first, second) if s.proc is not None}
        victim_pid = pid_of(holders(engine)[0] or "")
        victim, survivor = by_pid[victim_pid], next(s for pid, s in by_pid.items() if pid != victim_pid)
        lost = {p for p, h in holders(engine).items() if h is not None and pid_of(h) == victim_pid}
        victim.kill()  # SIGKILL: no goodbye, the leases stay until they expire
        killed_at = time.monotonic()
        assert survivor.proc is not None
        survivor_pid = survivor.proc.pid
        eventually(lambda: shares(engine) == {survivor_pid: PARTITIONS}, LIVENESS_S,
                   "the survivor never took the dead bridge's partitions", interval=0.05)
        takeover_s = time.monotonic() - killed_at
        eventually(lambda: len(poster.accepted) >= 200, LIVENESS_S, "posting stalled")

        third = start_bridge(stack)  # joins: the survivor hands it its share
        assert third.proc is not None
        third_pid = third.proc.pid
        eventually(lambda: shares(engine) == {survivor_pid: 2, third_pid: 2}, LIVENESS_S,
                   "the partitions were never rebalanced over the survivor and the new bridge")
        count_at_join = len(poster.accepted)
        eventually(lambda: len(poster.accepted) >= count_at_join + 60, LIVENESS_S, "posting stalled after the join")
        poster.stop.set()
        posting.join(10)

        accepted = {cid: (video, at) for video, cid, at in poster.accepted}
        live.wait_for(lambda _m: set(accepted) <= set(live.arrived), timeout=LIVENESS_S)
        lost_videos = {v for v in videos if any(Partition(p, PARTITIONS).owns(v) for p in lost)}
        stalled = [live.arrived[cid] - at for cid, (video, at) in accepted.items()
                   if video in lost_videos and at >= killed_at - 1.0]
        print(f"\n[{broker}] SIGKILLed bridge's partitions {sorted(lost)} taken over in {takeover_s:.2f} s; "
              f"longest 202 → live/ for their videos around the kill: {max(stalled):.2f} s; "
              f"{len(accepted)} comments accepted, refused: {dict(poster.refused)}")

        with sessionmaker(engine)() as s:
            rows = s.execute(select(Comment.id, Comment.video_id, Comment.seq, Comment.status)).all()
            per_video = dict(s.execute(select(Comment.video_id, func.count()).group_by(Comment.video_id)).all())
        assert {r.id for r in rows} == set(accepted)  # each 202'd comment stored (ids are unique: once)
        assert {r.status for r in rows} == {"approved"}
        stored = {r.id: (r.video_id, r.seq) for r in rows}
        for video in videos:
            seqs = [e["seq"] for e in live.events(f"live/videos/{video}/comments")]
            firsts = [seq for i, seq in enumerate(seqs) if seq not in seqs[:i]]
            assert firsts == list(range(1, per_video[video] + 1)), video  # gapless, increasing, from 1
            by_seq = {e["seq"]: e["comment"]["id"] for e in live.events(f"live/videos/{video}/comments")}
            assert all(stored[cid] == (video, seq) for seq, cid in by_seq.items())  # a repeat is the same event
        live.close()
    finally:
        engine.dispose()


def test_readyz_says_whether_a_bridge_holds_every_partition(stack: Stack) -> None:
    stack.broker()
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)

    def readiness() -> requests.Response:
        return requests.get(f"{api.base}/readyz", timeout=5)

    eventually(lambda: readiness().json()["checks"].get("broker") is True, LIVENESS_S, "the web app never connected")
    body = readiness().json()
    assert body["checks"]["bridge"] is False and "bridge" in body["error"]["message"]  # no bridge runs
    bridge = stack.bridge()
    api.wait_ready(LIVENESS_S)
    assert readiness().json()["checks"]["bridge"] is True
    bridge.kill()
    eventually(lambda: readiness().status_code == 503, LIVENESS_S, "still ready after the only bridge died")
    assert readiness().json()["checks"] == {"database": True, "broker": True, "bridge": False}
