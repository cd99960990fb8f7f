"""A 202 is a promise: comments survive SIGKILL of the bridge, and `up` runs and stops cleanly."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from infra.db import make_engine
from infra.ports import is_free
from livecomments.models import Comment
from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import ROOT, Stack, wait_for_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_every_accepted_comment_survives_bridge_sigkills(
    stack: Stack, database: str, request: pytest.FixtureRequest
) -> None:
    if database == "postgresql":
        stack.database_url = request.getfixturevalue("postgres_url")
    total, kills = 1000, (300, 650)
    stack.broker()
    bridge = stack.bridge()
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    assert api.create_video("v1").status_code == 201
    live = Collector(stack.mqtt_port, "live/videos/v1/comments")

    accepted: list[str] = []
    for i in range(total):
        if i in kills:
            bridge.kill()
            bridge = stack.bridge()
        r = api.post("v1", f"comment {i}", user=f"user{i}")  # one each: under the rate limit
        assert r.status_code == 202, r.text
        accepted.append(r.json()["id"])

    engine = make_engine(stack.effective_database_url)
    sessions = sessionmaker(engine)

    def all_numbered() -> bool:
        with sessions() as s:
            return len(s.scalars(select(Comment.seq).where(Comment.seq.is_not(None))).all()) == total

    eventually(all_numbered, 90, "not every accepted comment was numbered")
    with sessions() as s:
        rows = s.execute(select(Comment.id, Comment.seq, Comment.status).where(Comment.video_id == "v1")).all()
    engine.dispose()
    assert len(rows) == total  # exactly once
    assert {r.id for r in rows} == set(accepted)
    assert sorted(r.seq for r in rows) == list(range(1, total + 1))
    assert {r.status for r in rows} == {"approved"}

    live.wait_for(lambda _m: len({e["seq"] for e in live.events("live/videos/v1/comments")}) >= total, timeout=60)
    events = live.events("live/videos/v1/comments")
    by_seq: dict[int, str] = {}
    for e in events:  # a redelivered event must be the very same event
        assert by_seq.setdefault(e["seq"], e["comment"]["id"]) == e["comment"]["id"]
    assert sorted(by_seq) == list(range(1, total + 1))  # no gap
    assert sorted(by_seq.values()) == sorted(accepted)  # each comment under one seq only
    assert {r.id: r.seq for r in rows} == {cid: seq for seq, cid in by_seq.items()}
    live.close()


def start_up(stack: Stack, data_dir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "livecomments", "up", "--data-dir", str(data_dir),
         "--http-port", str(stack.http_port), "--mqtt-port", str(stack.mqtt_port), "--ws-port", str(stack.ws_port)],
        env={k: v for k, v in stack.env.items() if not k.startswith("LIVECOMMENTS_")},
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )


def admin_token(data_dir: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "livecomments", "token", "alice", "--name", "Alice", "--role", "admin",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = {int(c) for c in (task / "children").read_text().split()}
                todo += list(children - found)
                found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_serves_a_post_end_to_end_and_stops_on_sigterm(stack: Stack) -> None:
    data_dir = stack.data_dir / "up"
    log = (stack.data_dir / "up.log").open("wb")
    proc = start_up(stack, data_dir, log)
    try:
        for port in (stack.http_port, stack.mqtt_port, stack.ws_port):
            wait_for_port(port, proc=proc)
        token = admin_token(data_dir)
        api = Api(f"http://127.0.0.1:{stack.http_port}", secret="")
        api.wait_ready()
        auth = {"Authorization": f"Bearer {token}"}
        import requests

        assert requests.post(f"{api.base}/api/videos", json={"id": "v1", "title": "T"}, headers=auth,
                             timeout=10).status_code == 201
        live = Collector(stack.mqtt_port, "live/videos/v1/comments")
        r = requests.post(f"{api.base}/api/videos/v1/comments", json={"text": "hello up"}, headers=auth, timeout=10)
        assert r.status_code == 202
        live.wait_for(lambda _m: len(live.events("live/videos/v1/comments")) == 1)
        assert live.events("live/videos/v1/comments")[0]["comment"]["text"] == "hello up"
        live.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
    out = (stack.data_dir / "up.log").read_text()
    assert code == 0, out
    assert f"http://127.0.0.1:{stack.http_port}" in out and f"ws://127.0.0.1:{stack.ws_port}/mqtt" in out
    for port in (stack.http_port, stack.mqtt_port, stack.ws_port):
        assert is_free("127.0.0.1", port)


def test_up_killed_with_sigkill_takes_its_web_process_along_and_starts_again(stack: Stack) -> None:
    """The web app runs in a child of `up`: SIGKILL of `up` (no clean-up) must not leave it holding
    the HTTP port, and what was accepted before is there after the restart."""
    import requests

    data_dir = stack.data_dir / "up"
    log = (stack.data_dir / "up.log").open("wb")
    proc = start_up(stack, data_dir, log)
    try:
        api = Api(f"http://127.0.0.1:{stack.http_port}", secret="")
        api.wait_ready()
        auth = {"Authorization": f"Bearer {admin_token(data_dir)}"}
        assert requests.post(f"{api.base}/api/videos", json={"id": "v1", "title": "T"}, headers=auth,
                             timeout=10).status_code == 201
        first = requests.post(f"{api.base}/api/videos/v1/comments", json={"text": "before"}, headers=auth, timeout=10)
        assert first.status_code == 202
        children = descendants(proc.pid)
        assert children, "the web app runs in a child process of up"
        proc.kill()
        proc.wait(10)
        eventually(lambda: not any(alive(p) for p in children), 15, "up's children outlived it")
        eventually(lambda: is_free("127.0.0.1", stack.http_port), 15, "the HTTP port stayed taken")
        proc = start_up(stack, data_dir, log)
        api.wait_ready()
        live = Collector(stack.mqtt_port, "live/videos/v1/comments")
        after = requests.post(f"{api.base}/api/videos/v1/comments", json={"text": "after"}, headers=auth, timeout=10)
        assert after.status_code == 202
        live.wait_for(lambda _m: any(e["comment"]["id"] == after.json()["id"]
                                     for e in live.events("live/videos/v1/comments")))
        live.close()
        eventually(lambda: {c["id"] for c in api.history("v1").json()["comments"]}
                   == {first.json()["id"], after.json()["id"]}, 15, "both comments in the history")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
    assert code == 0, (stack.data_dir / "up.log").read_text()
