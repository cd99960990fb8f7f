"""Every wait on PostgreSQL is bounded (infra.db.postgres_timeouts): a server that accepts but
never answers fails the connection within connect_timeout, and a statement stuck behind a lock
is cancelled by the server's statement_timeout instead of holding a thread for good."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from infra import db


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_fails_the_connection_instead_of_hanging(silent_server: int) -> None:
    engine = db.make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{silent_server}/none")
    try:
        # pytest-timeout (120 s) would end a hang; libpq gives up after CONNECT_TIMEOUT_S
        with pytest.raises(OperationalError, match="timeout"), engine.connect():
            pass
    finally:
        engine.dispose()


def test_a_statement_stuck_on_a_lock_is_cancelled_by_the_server(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "STATEMENT_TIMEOUT_MS", 300)  # the same mechanism, shorter for the test
    engine = db.make_engine(postgres_url)
    try:
        db.create_schema(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"  # also after create_schema
        with engine.connect() as holder, engine.connect() as waiter:
            holder.execute(text("CREATE TABLE held (x int)"))
            holder.commit()
            holder.execute(text("LOCK TABLE held IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(OperationalError, match="statement timeout"):
                waiter.execute(text("SELECT * FROM held"))
            holder.rollback()
    finally:
        engine.dispose()
