"""PostgreSQL restarted mid-stream (issue 11, as it was found): a broker, a bridge and a web app on
a PostgreSQL server of the test's own, client threads posting with an `Idempotency-Key` each
(retried with the same key), and the server stopped (fast shutdown) for a few seconds, then
started again. While it is down every post is a fast 503 with Retry-After (never a 500, never a
hang); once it is back, posting works and the bridge delivers again without any livecomments
process restarted; every comment that got a 202 is stored once and delivered, seq gapless.

Found by it: the bridge's loop died on the first read that met the outage (the sweeper's), so its
partition waited for the lease logic to start a new one (5 s after a failure); the loop now
treats the database unavailable there as it does at the commit: it waits and retries."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from sqlalchemy.orm import sessionmaker
from ulid import ULID

from bridge.bus import BusHandlers
from bridge.deps import BridgeDeps
from bridge.metrics import BridgeMetrics
from bridge.service import Bridge
from infra.db import create_schema, make_engine
from livecomments.config import Settings
from livecomments.models import Video
from livecomments.wire import Submission
from tests.app.test_bridge_service import MemoryBus
from tests.support.api import Api
from tests.support.keyed_posts import Tally, assert_stored_once_and_delivered, keep_posting, wait_posted
from tests.support.mqtt import Collector
from tests.support.postgres_server import PostgresServer
from tests.support.stack import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(90)

CLIENTS = 3
POSTS_AROUND = 20  # 202s before the outage, and after it
DOWN_AT_LEAST_S = 3.0  # the outage lasts this long, and until the clients have met it
REFUSED_FAST_S = 3.0  # generous on a loaded machine: a refusal costs no timeout of ours (5 s and more)


def delivered_since(tally: Tally, live: Collector, since: float) -> bool:
    """Has a comment accepted after `since` (monotonic) reached live/?"""
    with tally.lock:
        later = {t.key for t in tally.tries if t.status == 202 and t.started >= since}
        ids = {tally.ids[k][0] for k in later}
    return any(e["comment"]["id"] in ids for e in live.events("live/videos/v1/comments"))


def test_postgres_restarted_mid_stream(postgres_server: PostgresServer, stack: Stack) -> None:
    stack.database_url = postgres_server.url()
    stack.broker()
    bridge = stack.bridge()
    web = stack.service("web", ports=[stack.http_port])
    web.env.update(LIVECOMMENTS_WEB_WORKERS="1", LIVECOMMENTS_WEB_THREADS="8")
    web.start()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready(30)
    assert api.create_video("v1").status_code == 201
    live = Collector(stack.mqtt_port, "live/videos/v1/comments")
    tally = Tally()
    stop = threading.Event()

    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(keep_posting, api, tally, "v1", n, stop) for n in range(CLIENTS)]

        try:
            wait_posted(tally, clients, POSTS_AROUND)
            postgres_server.stop()  # fast shutdown: every session is ended
            down = time.monotonic()
            eventually(lambda: time.monotonic() - down >= DOWN_AT_LEAST_S
                       and sum(1 for t in tally.tries if t.started > down and t.status == 503) >= 10
                       or any(c.done() for c in clients), 30, "the clients met no outage")
            restarting = time.monotonic()  # it may answer before start() returns
            postgres_server.start()
            up = time.monotonic()
            eventually(lambda: delivered_since(tally, live, up), 30, "delivery never resumed", interval=0.02)
            resumed = time.monotonic() - up
            wait_posted(tally, clients, POSTS_AROUND)
        finally:
            stop.set()
        for c in clients:
            c.result()  # raises what failed a client: a status other than 202 or 503

    during = [t for t in tally.tries if down < t.started and t.started + t.elapsed < restarting]
    refused = [t for t in during if t.status == 503]
    assert len(refused) >= 10
    assert {t.status for t in during} == {503}, [t for t in during if t.status != 503]  # no 500, no lost connection
    assert all(t.retry_after is not None and t.retry_after.isdigit() for t in refused)
    assert {t.code for t in refused} == {"unavailable"}
    slowest = max(t.elapsed for t in refused)
    assert slowest < REFUSED_FAST_S, f"a refusal took {slowest:.2f} s"
    assert {t.status for t in tally.tries} <= {202, 503}
    assert all(t.error is None for t in tally.tries), tally.retries()

    assert web.proc is not None and web.proc.poll() is None  # nothing was restarted
    assert bridge.proc is not None and bridge.proc.poll() is None
    assert "the bridge stopped on an error" not in bridge.output()  # its loop waited the outage out
    assert_stored_once_and_delivered(tally, stack.effective_database_url, live, "v1")
    live.close()
    after = [t for t in tally.tries if t.started >= up]
    refused_for = max(t.started + t.elapsed for t in tally.tries if t.status == 503) - down
    print(f"down {restarting - down:.2f} s; delivery resumed {resumed:.2f} s after the start; "
          f"{sum(1 for t in tally.tries if t.status == 503)} 503s (slowest {slowest:.3f} s), posts refused for "
          f"{refused_for:.2f} s from the stop; {sum(1 for t in after if t.status != 202)} of {len(after)} tries "
          f"after the start not a 202; {len(tally.ids)} comments, 0 lost")


def test_the_bridge_loop_waits_out_a_postgres_restart(postgres_server: PostgresServer, tmp_path: Path) -> None:
    """A Bridge in this process (an in-memory bus in place of MQTT) on a PostgreSQL that is
    stopped under it: the reads of its loop (the sweeper's, the outbox's) fail for as long, and it
    neither stops nor acks; a message that came meanwhile is recorded and published once the
    server is back."""
    engine = make_engine(postgres_server.url())
    create_schema(engine)
    with sessionmaker(engine).begin() as s:
        s.add(Video(id="v1", title="One", created_ts=0))
    buses: list[MemoryBus] = []

    def bus(handlers: BusHandlers) -> MemoryBus:
        buses.append(MemoryBus(handlers))
        return buses[-1]

    metrics = BridgeMetrics()
    bridge = Bridge(Settings(data_dir=tmp_path), BridgeDeps(engine=engine, bus=bus, metrics=metrics))

    def send(text_: str) -> int:
        sub = Submission(str(ULID()), "v1", "u1", "Alice", text_, None, int(time.time() * 1000))
        return buses[-1].deliver("ingest/videos/v1/comments", orjson.dumps(sub.to_doc()))

    try:
        bridge.start()
        first = send("before")
        eventually(lambda: first in buses[-1].acked and len(buses[-1].events("v1")) == 1, 20, "not delivered")
        postgres_server.stop()
        during = send("during")
        eventually(lambda: metrics.value("livecomments_bridge_db_errors_total") >= 3 or not bridge.is_alive(), 20,
                   "the bridge never met the outage")
        assert bridge.is_alive(), bridge.failure
        assert during not in buses[-1].acked  # not recorded: not acked
        postgres_server.start()
        eventually(lambda: during in buses[-1].acked, 20, "the message of the outage was never recorded")
        eventually(lambda: len(buses[-1].events("v1")) == 2, 20, "the message of the outage was never published")
        assert [(e["seq"], e["comment"]["text"]) for e in buses[-1].events("v1")] == [(1, "before"), (2, "during")]
        assert bridge.is_alive() and bridge.failure is None and len(buses) == 1  # the same loop, the same bus
    finally:
        bridge.stop()
        engine.dispose()
