"""Group commit: the concurrent posts of one process share a transaction.

Request threads hand their statement to one committer thread and wait. The committer takes
everything that has queued up, runs each item's statement in one transaction and commits
once, then wakes each request with its own result, so every 202 still follows the durable
commit of its own row. A lone post is committed at once, alone; under load one commit (one
fsync, one round trip to COMMIT) serves many posts, and the process's threads no longer
queue on the database's write lock one by one.

If one item fails in a way that is not the database being unavailable, the group is run
again one item per transaction, so a poisoned item fails alone. An item still queued when
its request gives up is never run (that request answered 503); one already running is
waited for, since its outcome is then decided by the database.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger("livecomments.webapp.group_commit")

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUP = 256  # items in one transaction at most
MAX_WAITING = 10_000  # items queued at most; beyond, a request is refused at once
QUEUE_TIMEOUT_S = 5.0  # how long a request waits for its turn before it gives up (503)


def _drop(conn: Connection | None) -> None:
    """After a failure the connection may be broken: let the pool throw it away."""
    if conn is not None:
        conn.invalidate()
        conn.close()


class Overloaded(RuntimeError):
    """The item was not run: too many wait, or it waited too long. Nothing was recorded."""


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        engine: Engine,
        work: Callable[[Connection, T], R],
        *,
        unavailable: tuple[type[Exception], ...] = (),
        max_group: int = MAX_GROUP,
        name: str = "group-commit",
        lone_autocommit: bool = False,
    ) -> None:
        """`lone_autocommit`: a group of one runs as the driver's own single-statement transaction
        (PostgreSQL autocommit: one round trip, not BEGIN + statement + COMMIT). Only for work
        that is one statement and uses the driver connection itself (`conn.connection`)."""
        self._engine = engine
        self._work = work
        self._lone_autocommit = lone_autocommit and engine.dialect.name == "postgresql"
        self._unavailable = unavailable
        self._max_group = max_group
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self.name = name
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the committer thread (a Service: livecomments.service)."""
        if not self._thread.is_alive() and not self._closed:
            self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def run(self, item: T, queue_timeout_s: float = QUEUE_TIMEOUT_S) -> R:
        """Run `work(conn, item)` in a shared transaction; its result once the commit is durable.
        Raises what the work or the commit raised, or Overloaded if it never ran."""
        future: Future[R] = Future()
        with self._wake:
            if self._closed:
                raise Overloaded("the web app is stopping")
            if len(self._queue) >= MAX_WAITING:
                raise Overloaded(f"{MAX_WAITING} posts already wait for the database")
            self._queue.append((item, future))
            self._wake.notify()
        try:
            return future.result(queue_timeout_s)
        except FutureTimeout:
            if future.cancel():
                raise Overloaded(f"waited {queue_timeout_s:g} s for the database") from None
            return future.result()  # running: the database decides, within its own timeouts
        except CancelledError:
            raise Overloaded("the web app is stopping") from None

    def _take(self) -> list[tuple[T, Future[R]]] | None:
        with self._wake:
            while not self._queue and not self._closed:
                self._wake.wait()
            if not self._queue:
                return None
            taken = [self._queue.popleft() for _ in range(min(self._max_group, len(self._queue)))]
        return [(item, f) for item, f in taken if f.set_running_or_notify_cancel()]

    def _run(self) -> None:
        conn: Connection | None = None
        while (group := self._take()) is not None:
            if group:
                conn = self._commit(conn, group)
            if conn is not None and not self._queue:
                conn.close()  # idle: the connection goes back to the pool until the next post
                conn = None
        if conn is not None:
            conn.close()

    def _commit(self, conn: Connection | None, group: Sequence[tuple[T, Future[R]]]) -> Connection | None:
        """Run the group in one transaction on `conn` (kept while posts keep coming: no pool
        checkout per group); the connection to use next, None if it had to be dropped."""
        try:
            conn = conn if conn is not None else self._engine.connect()
            if len(group) == 1 and self._lone_autocommit:
                results = [self._run_autocommit(conn, group[0][0])]
            else:
                with conn.begin():
                    results = [self._work(conn, item) for item, _ in group]
        except self._unavailable as exc:
            for _, future in group:
                future.set_exception(exc)
            _drop(conn)
            return None
        except Exception as exc:  # noqa: BLE001 - one item's fault: run each on its own
            _drop(conn)
            if len(group) == 1:
                group[0][1].set_exception(exc)  # it was on its own already
                return None
            log.exception("a group of %d failed; committing one by one", len(group))
            for item, future in group:
                self._commit_alone(item, future)
            return None
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
        return conn

    def _run_autocommit(self, conn: Connection, item: T) -> R:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            return self._work(conn, item)
        finally:
            with contextlib.suppress(Exception):  # a broken connection is dropped by the caller
                driver.autocommit = False

    def _commit_alone(self, item: T, future: Future[R]) -> None:
        try:
            with self._engine.begin() as conn:
                result = self._work(conn, item)
        except Exception as exc:  # noqa: BLE001 - handed to the request that owns it
            future.set_exception(exc)
        else:
            future.set_result(result)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Run what is queued, then stop the committer (safe twice, or before start)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
