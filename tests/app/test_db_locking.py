"""SQLite's write lock as the services use it (infra.db): readers never wait for it,
writers wait for it without SQLite's long back-off, and the busy timeout is kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from infra.db import BUSY_TIMEOUT_S, make_engine, read_only


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t (k) VALUES (1)"))
    yield engine
    engine.dispose()


def hold_write_lock(engine: Engine, held: threading.Event, release: threading.Event) -> threading.Thread:
    def run() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (k) VALUES (2)"))
            held.set()
            release.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(10)
    return thread


def test_a_reader_reads_while_a_writer_holds_the_lock(engine: Engine) -> None:
    held, release = threading.Event(), threading.Event()
    writer = hold_write_lock(engine, held, release)
    try:
        with read_only(engine).begin() as conn:  # would wait BUSY_TIMEOUT_S under BEGIN IMMEDIATE
            assert [r[0] for r in conn.execute(text("SELECT k FROM t"))] == [1]  # the snapshot
    finally:
        release.set()
        writer.join(10)


def test_a_writer_waits_for_the_lock_then_writes(engine: Engine) -> None:
    held, release = threading.Event(), threading.Event()
    writer = hold_write_lock(engine, held, release)
    done = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (k) VALUES (3)"))
        done.set()

    other = threading.Thread(target=second)
    other.start()
    assert not done.wait(0.2)  # still waiting for the lock (polling it, busy_timeout 0 meanwhile)
    release.set()
    writer.join(10)
    other.join(10)
    assert done.is_set()
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT k FROM t ORDER BY k"))] == [1, 2, 3]
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(BUSY_TIMEOUT_S * 1000)
