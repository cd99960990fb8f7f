"""Group commit (webapp.group_commit) on a real SQLite database: shared transactions, each
result after its own durable commit, a poisoned item failing alone, a queue that gives up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from infra.db import make_engine
from tests.support.waiting import eventually
from webapp.errors import UNAVAILABLE_ERRORS
from webapp.group_commit import GroupCommit, Overloaded


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def insert(conn: Connection, k: int) -> int:
    conn.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": k})
    return k * 10


def stored(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT k FROM t ORDER BY k"))]


def commits(engine: Engine) -> list[int]:
    seen: list[int] = []
    event.listen(engine, "commit", lambda _conn: seen.append(1))
    return seen


def run_all(gc: GroupCommit[int, int], items: list[int]) -> dict[int, Any]:
    """Each item from its own thread, as concurrent requests do; what each got back."""
    out: dict[int, Any] = {}

    def one(k: int) -> None:
        try:
            out[k] = gc.run(k)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            out[k] = exc

    threads = [threading.Thread(target=one, args=(k,)) for k in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_concurrent_items_share_commits_and_each_gets_its_result(engine: Engine) -> None:
    gate, running = threading.Event(), threading.Event()

    def slow_first(conn: Connection, k: int) -> int:
        if k == 0:
            running.set()
            gate.wait(10)  # hold the first group open while the others queue up
        return insert(conn, k)

    seen = commits(engine)
    gc: GroupCommit[int, int] = GroupCommit(engine, slow_first)
    gc.start()
    try:
        first = threading.Thread(target=gc.run, args=(0,))
        first.start()
        assert running.wait(10)  # the first runs alone: the others queue behind it
        others = threading.Thread(target=lambda: results.update(run_all(gc, list(range(1, 41)))))
        results: dict[int, Any] = {}
        others.start()
        eventually(lambda: len(gc._queue) >= 40 or not others.is_alive(), 30, "the 40 never queued", interval=0.01)
        gate.set()
        first.join(10)
        others.join(30)
    finally:
        gc.stop()
    assert results == {k: k * 10 for k in range(1, 41)}
    assert stored(engine) == list(range(41))
    assert len(seen) == 2  # the first alone, then the forty that queued behind it together


def test_a_poisoned_item_fails_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (k) VALUES (7)"))
    gc: GroupCommit[int, int] = GroupCommit(engine, insert, unavailable=UNAVAILABLE_ERRORS)
    gc.start()
    try:
        out = run_all(gc, [5, 6, 7, 8])
    finally:
        gc.stop()
    assert isinstance(out.pop(7), IntegrityError)
    assert out == {5: 50, 6: 60, 8: 80}
    assert stored(engine) == [5, 6, 7, 8]


def test_an_unavailable_database_fails_the_whole_group_and_records_nothing(engine: Engine) -> None:
    def refuse(_conn: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(engine, "commit", refuse)
    gc: GroupCommit[int, int] = GroupCommit(engine, insert, unavailable=UNAVAILABLE_ERRORS)
    gc.start()
    try:
        out = run_all(gc, [1, 2, 3])
    finally:
        gc.stop()
        event.remove(engine, "commit", refuse)
    assert all(isinstance(e, OperationalError) for e in out.values()) and len(out) == 3
    assert stored(engine) == []


def test_an_item_that_waited_too_long_is_never_run(engine: Engine) -> None:
    gate, running = threading.Event(), threading.Event()

    def blocking(conn: Connection, k: int) -> int:
        if k == 1:
            running.set()
            gate.wait(10)
        return insert(conn, k)

    gc: GroupCommit[int, int] = GroupCommit(engine, blocking)
    gc.start()
    try:
        first = threading.Thread(target=gc.run, args=(1,))
        first.start()
        assert running.wait(10)
        with pytest.raises(Overloaded):
            gc.run(2, queue_timeout_s=0.2)
        gate.set()
        first.join(10)
    finally:
        gc.stop()
    assert stored(engine) == [1]


def test_close_runs_what_is_queued(engine: Engine) -> None:
    gc: GroupCommit[int, int] = GroupCommit(engine, insert)
    gc.start()
    out = run_all(gc, [1, 2])
    gc.stop()
    assert out == {1: 10, 2: 20}
    with pytest.raises(Overloaded):
        gc.run(3)


def test_the_connection_goes_back_to_the_pool_when_idle(engine: Engine) -> None:
    gc: GroupCommit[int, int] = GroupCommit(engine, insert)
    gc.start()
    try:
        assert run_all(gc, [1, 2, 3]) == {1: 10, 2: 20, 3: 30}
        # the committer returns it just after waking the last request
        eventually(lambda: engine.pool.checkedout() == 0, 5, "the connection is still checked out",  # type: ignore[attr-defined]
                   interval=0.01)
    finally:
        gc.stop()


def test_a_lone_item_on_postgresql_is_its_own_transaction(postgres_url: str) -> None:
    """One round trip for a lone post: no BEGIN/COMMIT around it; a group still shares one."""
    from sqlalchemy.orm import Session
    from ulid import ULID

    from infra.db import create_schema
    from livecomments.models import Video
    from webapp.posting import PendingComment, insert_pending

    engine = make_engine(postgres_url)
    create_schema(engine)
    with Session(engine) as s, s.begin():
        s.add(Video(id="v1", title="V", created_ts=0))
    begins: list[int] = []
    event.listen(engine, "begin", lambda _conn: begins.append(1))
    gc: GroupCommit[PendingComment, bool] = GroupCommit(engine, insert_pending, lone_autocommit=True)
    gc.start()

    def row(key: str | None = None) -> PendingComment:
        return PendingComment(str(ULID()), "v1", None, "u1", "Ann", "hi", 1, key, False, 0)

    try:
        assert gc.run(row("k")) is True
        assert begins == []  # the statement was its own transaction
        assert gc.run(row("k")) is False  # the key's conflict, seen through autocommit too
        assert gc.run(row()) is True
    finally:
        gc.stop()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM comments")).scalar() == 2
    engine.dispose()
