"""The committer: the thread on which each batch's one transaction runs, one job at a time,
while the bridge's own thread decodes the next batch and publishes the last."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from bridge.apply import BatchResult, Screened
from bridge.inbox import Inbox, Received
from bridge.stream import InFlight
from livecomments.wire import Submission


@dataclass
class Job:
    """One batch on its way through the committer: what it came from, what it is, how it went."""

    received: list[Received]  # acked once `result` is committed
    inbox: Inbox
    submissions: list[Submission]  # the inbox's, then the sweeper's
    confirmed: list[InFlight]  # PUBACKed event batches, marked published in the same transaction
    known: dict[str, int]  # a copy of Streams.known when handed over
    started: float
    screened: dict[str, Screened] = field(default_factory=dict)  # texts screened while the batch before committed
    result: BatchResult | None = None
    error: OperationalError | None = None  # the database is unavailable: the messages are retried
    crash: BaseException | None = None  # anything else: raised on the bridge's thread


class Committer:
    """A thread that runs one job at a time, handed over by the bridge's thread and taken back by it.

    One job in flight at most: transactions run one after another in the order handed over,
    so each video's seq is assigned in order, and the bridge sees each job's end before the
    next one starts (it acks and queues one job's outcome before handing over the next)."""

    def __init__(self, work: Callable[[Job], None], wake: threading.Event) -> None:
        self._work = work
        self._wake = wake  # the bridge's: set when a job ends
        self._lock = threading.Condition()
        self._job: Job | None = None  # handed over, not yet taken back
        self._done = False
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name="bridge-committer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A job is handed over and not yet taken back."""
        return self._job is not None

    @property
    def finished(self) -> bool:
        return self._done

    def submit(self, job: Job) -> None:
        with self._lock:
            assert self._job is None, "one job at a time"
            self._job, self._done = job, False
            self._lock.notify_all()

    def take(self) -> Job | None:
        """The finished job (it is no longer busy), or None."""
        with self._lock:
            if not self._done:
                return None
            job, self._job, self._done = self._job, None, False
            return job

    def wait(self, timeout: float | None = None) -> bool:
        """Until the job in flight is finished (True) or `timeout` passes."""
        with self._lock:
            return self._lock.wait_for(lambda: self._done or self._job is None, timeout)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def _main(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._stopping or (self._job is not None and not self._done))
                if self._job is None or self._done:
                    return  # stopping, nothing left to do
                job = self._job
            try:
                self._work(job)
            except BaseException as exc:  # noqa: BLE001 - raised again on the bridge's thread, as before
                job.crash = exc
            with self._lock:
                self._done = True
                self._lock.notify_all()
            self._wake.set()
