"""History reads hit the Redis copy of `recent` first, and stay correct when Redis is flushed."""

from __future__ import annotations

import redis
import requests

from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import Stack
from tests.support.waiting import eventually


def web_metric(api: Api, name: str, **labels: str) -> float:
    want = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in requests.get(f"{api.base}/metrics", timeout=5).text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def test_history_is_right_from_the_cache_and_after_a_flush(stack: Stack, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    stack.broker()
    bridge = stack.service("bridge")
    bridge.env["LIVECOMMENTS_REDIS_URL"] = redis_url
    bridge.start()
    web = stack.service("web", ports=[stack.http_port])
    web.env["LIVECOMMENTS_REDIS_URL"] = redis_url
    # One worker: the test compares with the order it posted in, and two web processes hand
    # their posts to the bridge over two connections, so two posts a moment apart may be
    # numbered in either order (docs/contract.md, seq).
    web.env["LIVECOMMENTS_WEB_WORKERS"] = "1"
    web.start()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    api.create_video("v1")
    recent = Collector(stack.mqtt_port, "live/videos/v1/recent")
    ids: list[str] = []

    def post(n: int) -> None:
        for _ in range(n):
            ids.append(api.post("v1", f"comment {len(ids)}", user=f"u{len(ids)}").json()["id"])
        recent.wait_for(lambda _m: any(m.json()["seq"] >= len(ids) for m in recent.on("live/videos/v1/recent")))

    def history_ids(limit: int = 20) -> list[str]:
        return [c["id"] for c in api.history("v1", limit=limit).json()["comments"]]

    post(30)
    assert history_ids() == ids[::-1][:20]
    assert web_metric(api, "livecomments_web_history_cache_total", result="hit") >= 1

    client.flushall()  # mid-stream: the cache is gone, the database is not
    assert history_ids() == ids[::-1][:20]
    post(30)
    assert history_ids(50) == ids[::-1][:50]
    assert history_ids(60) == ids[::-1][:60]  # more than the window: from the database

    gone = ids[-1]
    assert api.call("DELETE", f"/api/comments/{gone}", user="u59").status_code == 204
    eventually(lambda: gone not in history_ids(), 10, "the deleted comment is still in the history")
    assert history_ids() == [i for i in ids[::-1] if i != gone][:20]
    recent.close()
