"""Several bridge instances on one ingest stream: each video has one writer."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from infra.db import make_engine
from infra.ports import free_port
from livecomments.config import Partition
from livecomments.models import Comment
from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import Stack
from tests.support.system import System

VIDEOS = [f"v{i}" for i in range(8)]


def test_partitions_split_videos_between_instances() -> None:
    halves = [Partition(0, 2), Partition(1, 2)]
    for video in VIDEOS + ["a", "b", "x" * 64]:
        assert [p.owns(video) for p in halves].count(True) == 1
    assert {halves[0].owns(v) for v in VIDEOS} == {True, False}  # both get work here
    with pytest.raises(ValueError):
        Partition(2, 2)


def test_two_bridges_share_one_ingest_stream(stack: Stack) -> None:
    stack.broker()
    metrics = []
    for index in range(2):
        port = free_port()
        bridge = stack.service("bridge", ports=[port])
        bridge.env.update(LIVECOMMENTS_BRIDGE_PARTITION=f"{index}/2", LIVECOMMENTS_BRIDGE_METRICS_PORT=str(port))
        bridge.start()
        metrics.append(port)
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    for video in VIDEOS:
        assert api.create_video(video).status_code == 201
    live = Collector(stack.mqtt_port, "live/videos/+/comments")
    posted: dict[str, list[str]] = defaultdict(list)
    for i in range(120):
        video = VIDEOS[i % len(VIDEOS)]
        r = api.post(video, f"comment {i}", user=f"u{i}")
        assert r.status_code == 202
        posted[video].append(r.json()["id"])

    def events_by_video() -> dict[str, list[dict]]:  # type: ignore[type-arg]
        out: dict[str, list[dict]] = defaultdict(list)  # type: ignore[type-arg]
        for m in live.messages:
            doc = m.json()
            out[doc["video_id"]] += doc["events"]
        return out

    live.wait_for(lambda _m: sum(len(v) for v in events_by_video().values()) >= 120)
    for video, events in events_by_video().items():
        assert [e["seq"] for e in events] == list(range(1, len(posted[video]) + 1)), video  # one writer, no repeat
        assert [e["comment"]["id"] for e in events] == posted[video]

    engine = make_engine(stack.effective_database_url)
    with sessionmaker(engine)() as s:
        rows = s.execute(select(Comment.video_id, Comment.seq, Comment.status)).all()
    engine.dispose()
    assert Counter(r.status for r in rows) == {"approved": 120}
    approved = [
        System.metric_at(port, "livecomments_bridge_submissions_total", outcome="approved", source="ingest")
        for port in metrics
    ]
    assert sum(approved) == 120 and all(a > 0 for a in approved)  # each processed once, both did work
    live.close()
