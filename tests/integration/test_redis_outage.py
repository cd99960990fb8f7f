"""Redis killed or frozen under a real web app and bridge (issue 11, as it was found): a post the
rate limit cannot check is a fast 503 with Retry-After and nothing recorded, history is read
from the database, /healthz keeps answering, and everything is back once Redis is."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from infra import redis_client
from infra.ports import free_port
from infra.recent_cache import RecentCache
from tests.support.api import Api
from tests.support.stack import Stack, wait_for_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@dataclass
class OwnRedis:
    """A redis-server this test may kill, restart, freeze and thaw (the shared one it may not)."""

    workdir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    persist: tuple[str, ...] = ("--appendonly", "no")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (./dev setup installs it)")
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self.persist,
                 "--dir", str(self.workdir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = OwnRedis(workdir, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(stack: Stack, own_redis: OwnRedis) -> Api:
    """A broker, a bridge and one web process with four threads, the last two on `own_redis`."""
    stack.broker()
    bridge = stack.service("bridge")
    bridge.env["LIVECOMMENTS_REDIS_URL"] = own_redis.url
    bridge.start()
    web = stack.service("web", ports=[stack.http_port])
    web.env.update(LIVECOMMENTS_REDIS_URL=own_redis.url, LIVECOMMENTS_WEB_WORKERS="1", LIVECOMMENTS_WEB_THREADS="4")
    web.start()
    client = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    client.wait_ready()
    assert client.create_video("v1").status_code == 201
    return client


def recorded(stack: Stack) -> int:
    engine = create_engine(stack.effective_database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM comments")).scalar_one())
    finally:
        engine.dispose()


def timed_post(api: Api, text_: str, user: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(
        f"{api.base}/api/videos/v1/comments", json={"text": text_}, headers=api.headers(user), timeout=5
    )
    return response, time.monotonic() - started


def assert_refused_fast(response: requests.Response, elapsed: float, limit_s: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers.get("Retry-After", "").isdigit()
    assert response.json()["error"]["code"] == "unavailable"
    assert elapsed < limit_s, f"the 503 took {elapsed:.2f} s"


def history_texts(api: Api) -> list[str]:
    response = requests.get(f"{api.base}/api/videos/v1/comments", timeout=5)
    assert response.status_code == 200, response.text
    return [c["text"] for c in response.json()["comments"]]


def test_redis_killed_refuses_posts_fast_and_history_reads_the_database(
    api: Api, stack: Stack, own_redis: OwnRedis
) -> None:
    assert api.post("v1", "before").status_code == 202
    eventually(lambda: history_texts(api) == ["before"], 10, "the first comment was never approved")
    before = recorded(stack)

    own_redis.kill()
    for i in range(4):
        response, elapsed = timed_post(api, f"during {i}", f"user{i}")
        assert_refused_fast(response, elapsed, 1.5)
    assert recorded(stack) == before
    assert history_texts(api) == ["before"]  # the cache is gone: from the database

    own_redis.start()  # same port, empty
    response, _ = timed_post(api, "after", "alice")
    assert response.status_code == 202, response.text
    eventually(lambda: history_texts(api) == ["after", "before"], 10, "the bridge stopped with Redis")


def test_redis_frozen_costs_a_post_one_timeout_and_healthz_keeps_answering(
    api: Api, stack: Stack, own_redis: OwnRedis
) -> None:
    assert api.post("v1", "before").status_code == 202
    eventually(lambda: history_texts(api) == ["before"], 10, "the first comment was never approved")
    before = recorded(stack)

    own_redis.signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(8) as pool:  # twice the web threads
            posts = [pool.submit(timed_post, api, f"frozen {i}", f"user{i}") for i in range(8)]
            time.sleep(0.2)  # the posts are in the web threads, waiting on Redis
            started = time.monotonic()
            health = requests.get(f"{api.base}/healthz", timeout=3)
            health_s = time.monotonic() - started
            results = [p.result() for p in posts]
        assert health.status_code == 200
        assert health_s < 2.0, f"/healthz took {health_s:.2f} s"
        for response, elapsed in results:
            assert_refused_fast(response, elapsed, 2.5)
        started = time.monotonic()
        assert history_texts(api) == ["before"]
        assert time.monotonic() - started < 2.0
        assert recorded(stack) == before
    finally:
        own_redis.signal(signal.SIGCONT)

    response, _ = timed_post(api, "after", "alice")
    assert response.status_code == 202, response.text
    eventually(lambda: history_texts(api) == ["after", "before"], 10, "the bridge stopped with Redis")


def test_a_write_lost_with_redis_never_leaves_an_old_window_behind(tmp_path: Path) -> None:
    """Redis restarted from its append-only file holds the window a failed write meant to replace:
    the writer deletes it at its next call that reaches Redis, so readers miss (and go to the
    database) instead of serving a window without the newest comment."""
    server = OwnRedis(tmp_path, free_port(), persist=("--appendonly", "yes", "--appendfsync", "always"))
    server.start()
    try:
        bridge, web = RecentCache(redis_client.connect(server.url)), RecentCache(redis_client.connect(server.url))
        bridge.put("v1", 1, [{"id": "a", "seq": 1}], complete=True)
        server.kill()
        bridge.put("v1", 2, [{"id": "a", "seq": 1}, {"id": "b", "seq": 2}], complete=True)  # lost, not raised
        assert web.get("v1") is None  # Redis is away: a miss, not an error
        server.start()  # back with seq 1 from its append-only file
        bridge.put("v2", 1, [], complete=True)  # the bridge's next write, for any video
        assert web.get("v1") is None
        bridge.put("v1", 3, [{"id": "c", "seq": 3}], complete=True)
        doc = web.get("v1")
        assert doc is not None and doc["seq"] == 3
    finally:
        server.stop()
