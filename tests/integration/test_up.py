"""`livecomments up` as a newcomer meets it: a demo video, its page, a token command, the real
ports in runtime.json for `where` and `watch`, a few start-up lines, every part watched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from infra.ports import free_port
from infra.runtime_file import RUNTIME_FILE, read_runtime, remove_runtime, write_runtime
from tests.support.waiting import eventually
from viewer.watch import default_broker, default_http

pytestmark = pytest.mark.slow


@dataclass
class Up:
    proc: subprocess.Popen[str]
    data_dir: Path
    lines: list[str]
    ports: dict[str, int]

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first line that holds `text`, once `up` has printed it."""

        def printed() -> str | None:
            exited = self.proc.poll() is not None  # before reading: what it printed last is read too
            line = next((line for line in list(self.lines) if text in line), None)
            if line is None and exited:
                raise AssertionError(f"{text!r} not printed before up exited; output:\n" + "\n".join(self.lines))
            return line

        try:
            return eventually(printed, timeout, f"{text!r} not printed")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; output:\n" + "\n".join(self.lines)) from None


def _start_up(data_dir: Path) -> Up:
    ports = {name: free_port() for name in ("http", "mqtt", "ws")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "livecomments", "up", "--data-dir", str(data_dir),
         *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port)))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return Up(proc, data_dir, lines, ports)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = _start_up(tmp_path / "data")
    try:
        running.wait_for("Ctrl-C or SIGTERM stops every part.")
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGTERM)
            try:
                running.proc.wait(30)
            except subprocess.TimeoutExpired:
                running.proc.kill()
                running.proc.wait()
        if running.proc.stdout is not None:
            running.proc.stdout.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
    return subprocess.run([sys.executable, "-m", "livecomments", *args], capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def test_up_shows_a_demo_video_a_token_command_and_the_real_ports(up: Up) -> None:
    base = f"http://127.0.0.1:{up.ports['http']}"
    page = up.wait_for("the demo video    http").split()[-1]
    assert page == f"{base}/videos/demo"
    resp = requests.get(page, timeout=10)
    assert resp.status_code == 200 and "text/html" in resp.headers["Content-Type"]

    # the token command is ready to paste: run it as printed, then post with the token
    command = up.wait_for("a token to post:").split("TOKEN=$(", 1)[1].rstrip(")")
    token = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30, check=True)  # noqa: S602
    posted = requests.post(f"{base}/api/videos/demo/comments", json={"text": "hello"},
                           headers={"Authorization": f"Bearer {token.stdout.strip()}"}, timeout=10)
    assert posted.status_code == 202, posted.text

    info = json.loads((up.data_dir / RUNTIME_FILE).read_text())
    assert {k: info[f"{k}_port"] for k in up.ports} == up.ports and info["pid"] == up.proc.pid
    where = {part: _cli("where", part, "--data-dir", str(up.data_dir)).stdout.strip() for part in up.ports}
    assert where == {"http": base, "mqtt": f"mqtt://127.0.0.1:{up.ports['mqtt']}",
                     "ws": f"ws://127.0.0.1:{up.ports['ws']}/mqtt"}
    runtime = read_runtime(up.data_dir)
    assert default_broker({}, runtime) == where["mqtt"] and default_http({}, runtime) == base

    # start-up says a few meaningful lines: no library's plugin or migration chatter
    # the first line that holds it: another part's output may share the line (stdout is shared)
    start_up = up.lines[: next(i for i, line in enumerate(up.lines) if "Ctrl-C or SIGTERM stops every part." in line)]
    assert not [line for line in start_up if " alembic." in line or " amqtt." in line], start_up
    assert len(start_up) <= 25, start_up

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(30) == 0
    assert not (up.data_dir / RUNTIME_FILE).exists()  # a clean stop leaves no stale ports behind
    assert _cli("where", "http", "--data-dir", str(up.data_dir)).returncode == 1


def test_the_demo_video_is_created_once(tmp_path: Path) -> None:
    from livecomments.config import Settings
    from wiring.up import ensure_demo_video
    from wiring.web import prepare_data

    settings = Settings(data_dir=tmp_path)
    prepare_data(settings)
    assert ensure_demo_video(settings) == "demo"
    assert ensure_demo_video(settings) == "demo"  # still there: its page is shown again

    other = Settings(data_dir=tmp_path / "own")
    prepare_data(other)
    from sqlalchemy import create_engine, text

    engine = create_engine(other.effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO videos (id, title, status, chat, slow_mode_s, hold_for_review, blocked_terms,"
                          " reports_to_hold, last_seq, rules_version, created_ts)"
                          " VALUES ('mine', 'Mine', 'live', 'open', 0, 0, '[]', 3, 0, 0, 1)"))
    engine.dispose()
    assert ensure_demo_video(other) is None  # the user's own videos: no demo added


def test_up_stops_every_part_when_one_dies(up: Up) -> None:
    web = [child for child in psutil.Process(up.proc.pid).children(recursive=True)
           if "web" in " ".join(child.cmdline())]
    assert web, "the web app runs as a child process"
    for child in web:
        child.kill()
    assert up.proc.wait(30) == 1
    assert any("the web app stopped for good" in line for line in up.lines), up.lines


def test_a_runtime_file_left_by_a_dead_process_is_ignored(tmp_path: Path) -> None:
    write_runtime(tmp_path, {"http_port": 1})
    assert read_runtime(tmp_path) == {"pid": os.getpid(), "http_port": 1}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / RUNTIME_FILE).write_text(json.dumps({"pid": dead.pid, "http_port": 1}))
    assert read_runtime(tmp_path) is None
    assert default_broker({}, None) == "mqtt://127.0.0.1:1883"
    assert default_broker({"LIVECOMMENTS_MQTT_PORT": "9"}, {"mqtt_port": 7}) == "mqtt://127.0.0.1:9"  # env first
    remove_runtime(tmp_path)  # not this process's file: kept
    assert (tmp_path / RUNTIME_FILE).exists()
