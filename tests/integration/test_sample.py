"""The sampled feed `live/videos/{v}/sample` end to end: real broker, bridge and web app processes.

A producer publishes 50 comments a second for 3 s on one video's ingest topic (as the web app
and other services do), a moderator deletes some; a subscriber on both `comments` and `sample`
checks that the sample is the rule's selection of the full stream (livecomments.sample, recomputed
here from the stream the bridge published on `comments`), that no 1-second interval carries more
than the cap, that sampled + skipped is the full stream, and that every delete passes. At a low
rate, through the web API, the sample is the whole stream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from ulid import ULID

from livecomments.sample import WINDOW_MS, SampleRule
from livecomments.wire import Submission
from tests.support.mqtt import Collector
from tests.support.stack import Stack
from tests.support.system import System, start_system

CAP = 5  # the default sample_per_s
COMMENTS, SAMPLE = "live/videos/v1/comments", "live/videos/v1/sample"
SLOW_COMMENTS, SLOW_SAMPLE = "live/videos/v2/comments", "live/videos/v2/sample"


@pytest.fixture
def system(stack: Stack) -> Iterator[System]:
    running = start_system(stack)  # SQLite: the sample is the bridge's business, not the database's
    for video in ("v1", "v2"):
        assert running.api.create_video(video).status_code == 201
    yield running
    running.close()


def comment_events(collector: Collector, topic: str) -> list[dict[str, Any]]:
    return [e for e in collector.events(topic) if e["type"] == "comment"]


def skipped_total(collector: Collector, topic: str = SAMPLE) -> int:
    return sum(int(m.json()["skipped"]) for m in collector.on(topic))


def most_in_a_second(times: list[int]) -> int:
    ordered, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - WINDOW_MS:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def produce(system: System, count: int, per_s: float) -> list[str]:
    """Submissions published on ingest at `per_s` (pacing the load, not a timed assertion), each with
    the time it was sent as its ts, from 30 users; their ids in order."""
    user, password = system.creds("webapp")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sample-producer-{ULID()}")
    client.username_pw_set(user, password)
    client.connect("127.0.0.1", system.stack.mqtt_port)
    client.loop_start()
    ids, infos = [], []
    start = time.monotonic()
    try:
        for i in range(count):
            time.sleep(max(0.0, start + i / per_s - time.monotonic()))
            sub = Submission(str(ULID()), "v1", f"u{i % 30}", f"User {i % 30}", f"comment {i}", None,
                             time.time_ns() // 1_000_000)
            infos.append(client.publish("ingest/videos/v1/comments", sub.to_json(), qos=1))
            ids.append(sub.id)
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return ids


def test_the_sample_at_a_high_rate_keeps_the_cap_and_at_a_low_rate_is_the_stream(system: System) -> None:
    """One system for both (a system takes ~8 s to start): v1 at 50 comments/s, then v2 at 3/s."""
    at_a_high_rate_the_sample_keeps_the_cap_and_counts_the_rest(system)
    at_a_low_rate_the_sample_is_the_whole_stream(system)


def at_a_high_rate_the_sample_keeps_the_cap_and_counts_the_rest(system: System) -> None:
    viewer = Collector(system.stack.mqtt_port, COMMENTS, SAMPLE)  # QoS 1: this test must not lose any
    ids = produce(system, 150, per_s=50)
    viewer.wait_for(lambda _m: len(comment_events(viewer, COMMENTS)) >= len(ids), timeout=60)
    full = comment_events(viewer, COMMENTS)
    assert [e["comment"]["id"] for e in full] == ids
    sampled_ids = {e["comment"]["id"] for e in comment_events(viewer, SAMPLE)}
    left_out = [i for i in ids if i not in sampled_ids]
    doomed = [ids[0], left_out[0], ids[-1]]  # a sampled one, one left out, and the last
    for comment_id in doomed:
        assert system.api.mod("DELETE", f"/api/comments/{comment_id}").status_code == 204

    def deletes() -> list[str]:
        return [e["id"] for e in viewer.events(SAMPLE) if e["type"] == "delete"]

    # every count goes out: with the next message (a delete here), or alone within a second or so
    viewer.wait_for(lambda _m: sorted(deletes()) == sorted(doomed)
                    and len(comment_events(viewer, SAMPLE)) + skipped_total(viewer) == len(ids), timeout=30)
    viewer.close()

    sample = comment_events(viewer, SAMPLE)
    assert [e["type"] for e in viewer.events(COMMENTS)][len(ids):] == ["delete"] * 3
    by_seq = {e["seq"]: e for e in viewer.events(COMMENTS)}
    assert all(by_seq[e["seq"]] == e for e in viewer.events(SAMPLE))  # the same events, their real seq
    seqs = [e["seq"] for e in viewer.events(SAMPLE)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    rule = SampleRule(CAP)  # the documented rule, run over the full stream, picks exactly these
    assert [e["seq"] for e in sample] == [e["seq"] for e in full if rule.offer(e["comment"]["ts"])]
    times = [e["comment"]["ts"] for e in full]
    assert times == sorted(times)  # one producer, in order: the stream's time is the ts itself
    assert most_in_a_second([e["comment"]["ts"] for e in sample]) <= CAP
    assert most_in_a_second(times) > 4 * CAP  # the stream was well over the cap
    assert CAP * 2 <= len(sample) <= CAP * 5  # ~3 s of stream: about 3 x CAP kept
    assert len(sample) + skipped_total(viewer) == len(ids)


def at_a_low_rate_the_sample_is_the_whole_stream(system: System) -> None:
    viewer = Collector(system.stack.mqtt_port, SLOW_COMMENTS, SLOW_SAMPLE)
    posted = []
    for i in range(8):  # 3 a second through the web API, each accepted before the next is sent
        if i:
            time.sleep(1 / 3)
        r = system.api.post("v2", f"slow comment {i}", user=f"u{i}")
        assert r.status_code == 202, r.text
        posted.append(r.json()["id"])
    assert system.api.mod("DELETE", f"/api/comments/{posted[2]}").status_code == 204
    viewer.wait_for(lambda _m: len(viewer.events(SLOW_SAMPLE)) >= len(posted) + 1, timeout=30)
    viewer.wait_for(lambda _m: len(viewer.events(SLOW_COMMENTS)) >= len(posted) + 1, timeout=30)
    viewer.close()
    assert viewer.events(SLOW_SAMPLE) == viewer.events(SLOW_COMMENTS)
    assert [e["comment"]["id"] for e in comment_events(viewer, SLOW_SAMPLE)] == posted
    assert all(m.json()["skipped"] == 0 for m in viewer.on(SLOW_SAMPLE))
    assert all(not m.retain for m in viewer.on(SLOW_SAMPLE))
