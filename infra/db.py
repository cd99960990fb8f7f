"""Engine set-up shared by every process: SQLite in WAL mode with immediate write
transactions (the embedded default), or PostgreSQL."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def engine_options(url: str) -> dict[str, Any]:
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pre-ping: it is a round trip on every checkout, on the hot path of every post. A
    # connection the server dropped fails one request (503, retried by the client with the same
    # Idempotency-Key) and is then discarded by the pool.
    return {
        "pool_pre_ping": False, "pool_recycle": 1800, "pool_size": 20, "max_overflow": 20,
        "pool_timeout": POOL_TIMEOUT_S,
        "connect_args": postgres_timeouts(),
    }


# PostgreSQL: every wait on the database is bounded, so a failed or unreachable server costs a
# request one timeout (a 503 with Retry-After), never a thread for good (docs/operations.md).
CONNECT_TIMEOUT_S = 3  # libpq's connect_timeout: a server that accepts but never answers
STATEMENT_TIMEOUT_MS = 15000  # server side: a statement stuck on a lock or a slow plan
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60000  # server side: a transaction its client abandoned
TCP_USER_TIMEOUT_MS = 15000  # kernel: data unacknowledged this long (a host or network gone)
POOL_TIMEOUT_S = 5.0  # waiting for a pooled connection when all are busy


def postgres_timeouts() -> dict[str, Any]:
    """libpq connection parameters (psycopg passes them through) bounding every wait."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
                   f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
    }


READ_ONLY = "livecomments_read_only"  # execution option: this connection's transactions only read


def read_only(engine: Engine) -> Engine:
    """The same engine (and pool) for transactions that only read: on SQLite they begin deferred,
    so they neither take nor wait for the write lock; elsewhere nothing changes."""
    return engine.execution_options(**{READ_ONLY: True})


def prepare_engine(engine: Engine) -> Engine:
    """SQLite: WAL, full fsync, and BEGIN IMMEDIATE so two writers queue instead of failing
    (transactions through `read_only(engine)` begin deferred: readers never wait in WAL mode)."""
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        _ensure_wal(cur)
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # a WAL snapshot: never waits for the write lock
        else:
            _begin_immediate(conn.connection.driver_connection)

    return engine


BUSY_TIMEOUT_S = 30.0
_LOCK_POLL_S = (0.0002, 0.0005, 0.001, 0.002)  # then every 2 ms


def _begin_immediate(dbapi_conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock by polling it every 2 ms at most.

    SQLite's own busy handler backs off to 100 ms between tries, so a writer that meets a busy
    lock once (a web process's commit, the bridge's) sleeps long past the moment it is free and
    comes back behind the next one; posts and the bridge then take turns in tens of ms."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        for attempt in count():
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(_LOCK_POLL_S[min(attempt, len(_LOCK_POLL_S) - 1)])
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")


def _ensure_wal(cur: Any) -> None:
    """WAL is a property of the database file: set it once. Two processes opening a fresh
    file at the same moment may both try; the loser waits and finds it done."""
    for attempt in range(50):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)


def make_engine(url: str) -> Engine:
    return prepare_engine(create_engine(url, **engine_options(url)))


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


_SCHEMA_LOCK = threading.Lock()  # Alembic's command context is per process, not per thread
MIGRATION_LOCK_KEY = 0x6C63_6D69  # PostgreSQL advisory lock held while migrating ("lcmi")


@contextmanager
def _migrating_alone(connection: Connection) -> Iterator[None]:
    """Across processes, one migration of a database at a time (the others wait, then find it at
    head): a PostgreSQL advisory lock, or an exclusive lock on a file beside the SQLite database."""
    url = connection.engine.url
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        try:
            yield
        finally:
            connection.rollback()  # nothing half-done stays open under the unlock
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            connection.commit()
    elif connection.dialect.name == "sqlite" and url.database and url.database != ":memory:":
        with open(f"{url.database}.migrate-lock", "a") as lock:  # left in place: removing it would race
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        yield


def create_schema(engine: Engine) -> None:
    """Bring the database to the current schema (Alembic migrations; safe to run from several
    processes at once, as the bridge and the web app do at start-up, and from several threads of
    one: `up` runs the bridge and the web app together)."""
    with _SCHEMA_LOCK, engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:  # a migration, or the wait for another process's, may take long
            connection.exec_driver_sql("SET statement_timeout = 0")
        with _migrating_alone(connection):
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        if postgres:
            connection.exec_driver_sql("RESET statement_timeout")  # back to the pool with its bound
            connection.commit()
