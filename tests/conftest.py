"""The fixtures every tier may use: a clean environment, the process harness, real Redis and
PostgreSQL of the test's own, and the whole system.

Every server a test talks to is started on a free port with its own data dir, and stopped
afterwards. What these fixtures build lives in tests/support/; each tier's own fixtures are in
its conftest.py (tests/app: the Flask app and its client; tests/browser: Chromium).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from infra.ports import free_port
from tests.support.postgres_server import PostgresServer, close_postgres_server, started_postgres_server
from tests.support.stack import Stack, wait_for_port
from tests.support.system import System, start_system

POSTGRES_ADMIN_URL = os.environ.get("LIVECOMMENTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LIVECOMMENTS_* setting leaks in from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("LIVECOMMENTS_"):
            monkeypatch.delenv(key)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Ports and a data dir for the processes of one test; every one started is stopped after it."""
    s = Stack.on_free_ports(tmp_path / "data")
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of our own on a free port (never the machine's 6379)."""
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


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A fresh database of our own on the machine's PostgreSQL, dropped afterwards."""
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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database of our own on the machine's PostgreSQL (dropped afterwards)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own on a free port, which it may stop and start (never the
    machine's on 5432); removed afterwards."""
    try:
        server = started_postgres_server()
    except FileNotFoundError as exc:  # like redis-server: a missing server fails loudly, never skips
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        close_postgres_server(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, once SQLite in tmp_path (the embedded default) and once PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def system(stack: Stack, request: pytest.FixtureRequest) -> Iterator[System]:
    """The whole system (broker, bridge, web app processes), once on SQLite and once on PostgreSQL."""
    if request.param == "postgresql":
        stack.database_url = request.getfixturevalue("postgres_url")
    running = start_system(stack)
    yield running
    running.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One whole system (broker, bridge, web app processes) for every test of a module, once on
    SQLite and once on PostgreSQL: starting one costs seconds of CPU. Only for tests that keep to
    videos (and users' limits on them) of their own, compare the bridge's counters before and
    after, and stop, restart or reconfigure nothing: those take `system`."""
    with ExitStack() as cleanup:
        stack = Stack.on_free_ports(tmp_path_factory.mktemp("system") / "data")
        if request.param == "postgresql":
            stack.database_url = cleanup.enter_context(fresh_postgres_database())
        cleanup.callback(stack.stop_all)  # before the database is dropped
        running = start_system(stack)
        cleanup.callback(running.close)
        yield running
