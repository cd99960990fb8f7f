"""A web worker SIGKILLed under a stream of posts (issue 11, as it was found): `livecomments web`
with two granian workers on PostgreSQL, client threads posting with an `Idempotency-Key` each and
retrying with the same key on a lost connection or a 503, while one worker and then another is
killed with SIGKILL and respawned. Every comment that got a 202 is stored once and delivered on
live/ under one seq, seq gapless, and every retry got the id of the first try."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.support.api import Api
from tests.support.keyed_posts import Tally, assert_stored_once_and_delivered, keep_posting, wait_posted
from tests.support.mqtt import Collector
from tests.support.stack import Service, Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(90)

CLIENTS = 4
POSTS_BETWEEN_KILLS = 25  # 202s before the first kill, between the kills, after the last


def worker_pids(web: Service) -> set[int]:
    assert web.proc is not None
    return {p.pid for p in psutil.Process(web.proc.pid).children() if p.status() != psutil.STATUS_ZOMBIE}


def respawned_and_ready(web: Service, before: set[int]) -> bool:
    """Two workers again, and the new one has built its app (it logs so before it serves)."""
    now = worker_pids(web)
    new = now - before
    return len(now) == 2 and len(new) == 1 and f"web worker {new.pop()} ready" in web.output()


def test_a_web_worker_killed_under_posts_loses_and_duplicates_nothing(stack: Stack, postgres_url: str) -> None:
    stack.database_url = postgres_url
    stack.broker()
    stack.bridge()
    web = stack.service("web", "--workers", "2", ports=[stack.http_port])
    web.env.update(LIVECOMMENTS_WEB_THREADS="8")
    web.start()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready(30)
    eventually(lambda: len(worker_pids(web)) == 2, 30, "granian never ran two workers", interval=0.1)
    assert api.create_video("v1").status_code == 201
    live = Collector(stack.mqtt_port, "live/videos/v1/comments")
    tally = Tally()
    killed: list[int] = []
    respawned: list[float] = []  # s from each kill to its replacement's app built
    stop = threading.Event()

    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(keep_posting, api, tally, "v1", n, stop) for n in range(CLIENTS)]

        try:
            for _kill in range(2):  # mid-stream: posts go on before, between and after
                wait_posted(tally, clients, POSTS_BETWEEN_KILLS)
                before = worker_pids(web)
                victim = min(before - set(killed))
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                at = time.monotonic()
                eventually(lambda before=before: respawned_and_ready(web, before), 30,
                           "granian did not respawn the killed worker", interval=0.05)
                respawned.append(time.monotonic() - at)
            wait_posted(tally, clients, POSTS_BETWEEN_KILLS)
        finally:
            stop.set()
        for c in clients:
            c.result()  # raises what failed a client: a status other than 202 or 503

    assert web.proc is not None and web.proc.poll() is None  # the server itself carries on
    assert len(tally.ids) >= 3 * POSTS_BETWEEN_KILLS
    assert_stored_once_and_delivered(tally, postgres_url, live, "v1")
    live.close()
    print(f"workers killed: {killed}, replaced and ready in {', '.join(f'{s:.2f}' for s in respawned)} s; "
          f"{len(tally.ids)} comments; tries not a 202: {dict(tally.retries())}")
