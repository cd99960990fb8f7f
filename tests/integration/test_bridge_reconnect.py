"""The bridge across a broker restart: what was accepted meanwhile reaches viewers, in seq order."""

from __future__ import annotations

import time

import pytest

from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import Stack, wait_for_port

pytestmark = pytest.mark.slow


def test_comments_accepted_around_a_broker_restart_are_all_published_in_order(stack: Stack) -> None:
    broker = stack.broker()
    stack.bridge()
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    assert api.create_video("v1").status_code == 201
    accepted = [api.post("v1", f"before {i}", user=f"a{i}").json()["id"] for i in range(20)]
    broker.kill()
    for i in range(10):  # the web app still answers 202 (durable pending rows); the sweeper re-drives them
        r = api.post("v1", f"during {i}", user=f"b{i}")
        if r.status_code == 202:
            accepted.append(r.json()["id"])
    broker.start()
    wait_for_port(stack.mqtt_port)
    time.sleep(0.5)
    live = Collector(stack.mqtt_port, "live/videos/v1/comments")
    accepted += [api.post("v1", f"after {i}", user=f"c{i}").json()["id"] for i in range(20)]
    recent = Collector(stack.mqtt_port, "live/videos/v1/recent")
    recent.wait_for(lambda _m: any(set(accepted) <= {c["id"] for c in m.json()["comments"]} for m in recent.messages),
                    timeout=60)
    after = set(accepted[-20:])
    live.wait_for(lambda _m: after <= {e["comment"]["id"] for e in live.events("live/videos/v1/comments")})
    seqs = [e["seq"] for e in live.events("live/videos/v1/comments")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # one connection: strictly increasing
    latest = max(m.json()["seq"] for m in recent.messages)
    assert latest == len(accepted)
    live.close()
    recent.close()
