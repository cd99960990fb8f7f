"""The bridge's committer thread: one job at a time, taken back in the order handed over (no broker, no database)."""

from __future__ import annotations

import threading

import pytest

from bridge.committer import Committer, Job
from bridge.inbox import Inbox


def job(n: int) -> Job:
    return Job(received=[], inbox=Inbox(), submissions=[], confirmed=[], known={}, started=float(n))


def test_jobs_run_one_at_a_time_and_come_back_in_order() -> None:
    ran: list[float] = []
    wake = threading.Event()
    committer = Committer(lambda j: ran.append(j.started), wake)
    committer.start()
    try:
        for n in range(5):
            committer.submit(job(n))
            assert committer.busy
            with pytest.raises(AssertionError):
                committer.submit(job(99))  # never two in flight
            assert committer.wait(10)
            assert wake.is_set()
            wake.clear()
            done = committer.take()
            assert done is not None and done.started == n and done.crash is None
            assert not committer.busy and committer.take() is None
    finally:
        committer.stop()
    assert ran == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_failure_comes_back_with_its_job() -> None:
    def work(_j: Job) -> None:
        raise RuntimeError("boom")

    committer = Committer(work, threading.Event())
    committer.start()
    try:
        committer.submit(job(1))
        assert committer.wait(10)
        done = committer.take()
        assert done is not None and isinstance(done.crash, RuntimeError)
    finally:
        committer.stop()
