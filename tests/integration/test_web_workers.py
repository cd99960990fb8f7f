"""`livecomments web --workers N`: granian worker processes against a real broker and bridge."""

from __future__ import annotations

import signal

import psutil
import requests

from tests.support.api import Api
from tests.support.stack import Service, Stack
from tests.support.waiting import eventually


def _worker_pids(web: Service) -> set[int]:
    assert web.proc is not None
    return {p.pid for p in psutil.Process(web.proc.pid).children()}


def _answering_pids(base: str, port: int, workers: set[int], connections: int = 24) -> set[int]:
    """Open keep-alive connections, ask once on each, and see which worker process holds each one."""
    sessions = [requests.Session() for _ in range(connections)]
    try:
        for s in sessions:
            assert s.get(base + "/healthz", timeout=5).status_code == 200
        answered = set()
        for pid in workers:
            for c in psutil.Process(pid).net_connections("tcp"):
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port:
                    answered.add(pid)
        return answered
    finally:
        for s in sessions:
            s.close()


def test_web_workers_post_read_reload_and_stop(stack: Stack) -> None:
    """`livecomments web --workers 2` against a real broker and bridge: two worker processes
    answer, posts are published and read back, the body is bounded, SIGHUP replaces every
    worker while posts keep getting their 202, and SIGTERM stops them all."""
    stack.broker()
    stack.bridge()
    web = stack.service("web", "--workers", "2", ports=[stack.http_port]).start()
    base = f"http://127.0.0.1:{stack.http_port}"
    api = Api(base, stack.secret)
    api.wait_ready(30)
    assert f"web app listening on http://127.0.0.1:{stack.http_port}" in web.output()

    eventually(lambda: len(_worker_pids(web)) >= 2, 20, "fewer than two workers", interval=0.1)
    workers = _worker_pids(web)
    assert len(workers) == 2
    answered: set[int] = set()

    def every_worker_answered() -> bool:
        answered.update(_answering_pids(base, stack.http_port, workers))
        return answered == workers

    eventually(every_worker_answered, 20, "not every worker answered", interval=0)

    assert api.create_video("v1").status_code == 201
    ids = [api.post("v1", f"comment {i}", user=f"u{i}").json()["id"] for i in range(6)]
    big = requests.post(base + "/api/videos/v1/comments", data=b"x" * 20000,
                        headers={**api.headers("alice"), "Content-Type": "application/json"}, timeout=5)
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    chunked = requests.post(base + "/api/videos/v1/comments", data=iter([b"x" * 5000] * 4),
                            headers={**api.headers("alice"), "Content-Type": "application/json"}, timeout=5)
    assert chunked.status_code == 413
    assert requests.get(base + "/api/videos/a%2Bb", timeout=5).status_code == 400  # decoded, then checked

    def published() -> set[str]:
        return {c["id"] for c in api.history("v1").json()["comments"]}

    eventually(lambda: set(ids) <= published(), 20, "not every post was published", interval=0.2)

    web.proc.send_signal(signal.SIGHUP)
    statuses: list[int] = []

    def replaced_while_posting() -> bool:
        n = len(statuses)
        statuses.append(api.post("v1", f"during reload {n}", user=f"r{n % 15}").status_code)
        now = _worker_pids(web)
        return len(now) == 2 and not now & workers

    eventually(replaced_while_posting, 30, "SIGHUP did not replace every worker")
    replaced = _worker_pids(web)
    assert len(replaced) == 2 and not replaced & workers, (workers, replaced)
    assert statuses and set(statuses) == {202}, statuses
    assert api.post("v1", "after reload", user="after").status_code == 202

    assert web.stop() == 0
    gone = [pid for pid in workers | replaced if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert gone == []
