"""Shared fixtures: free loopback ports, temporary data dirs, real processes.

Every server a test talks to is started here on a free port with its own data dir,
and stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LIVECOMMENTS_* setting leaks in from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("LIVECOMMENTS_"):
            monkeypatch.delenv(key)


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Service:
    """A livecomments command running as a child process."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    ports: list[int] = field(default_factory=list)

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "livecomments", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        for port in self.ports:
            wait_for_port(port, proc=self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Stack:
    """Ports, data dir and environment shared by the processes of one test system."""

    data_dir: Path
    mqtt_port: int
    ws_port: int
    http_port: int
    secret: str = "test-secret-0123456789abcdef0123456789"
    database_url: str | None = None  # None: SQLite in the data dir
    services: list[Service] = field(default_factory=list)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'livecomments.sqlite3'}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
        env.update(
            LIVECOMMENTS_DATA_DIR=str(self.data_dir),
            LIVECOMMENTS_MQTT_PORT=str(self.mqtt_port),
            LIVECOMMENTS_WS_PORT=str(self.ws_port),
            LIVECOMMENTS_HTTP_PORT=str(self.http_port),
            LIVECOMMENTS_SECRET=self.secret,
            LIVECOMMENTS_SWEEP_AFTER_S="1",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["LIVECOMMENTS_DATABASE_URL"] = self.database_url
        return env

    def service(self, name: str, *args: str, ports: list[int] | None = None) -> Service:
        svc = Service(
            [name, *args], self.env, self.data_dir / f"{name}-{len(self.services)}.log", ports=ports or []
        )
        self.services.append(svc)
        return svc

    def broker(self) -> Service:
        return self.service("broker", ports=[self.mqtt_port, self.ws_port]).start()

    def bridge(self) -> Service:
        return self.service("bridge").start()

    def web(self) -> Service:
        return self.service("web", ports=[self.http_port]).start()

    def stop_all(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "data", free_port(), free_port(), free_port())
    s.data_dir.mkdir()
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of our own on a free port (never the machine's 6379)."""
    import shutil

    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (./dev setup installs it)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    with (workdir / "redis.log").open("wb") as log:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc=proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)



POSTGRES_ADMIN_URL = os.environ.get("LIVECOMMENTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database of our own on the machine's PostgreSQL (dropped afterwards)."""
    import uuid

    import psycopg

    name = f"lc_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (set LIVECOMMENTS_TEST_POSTGRES): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


from tests.systemkit import system  # noqa: E402, F401 - the whole-system fixture, for every test module
