"""webapp.admission: the door's bounds on bodies read, requests at work and requests waiting,
called as a WSGI app with plain environ dicts (no server)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.waiting import eventually
from webapp.admission import Admission, AdmissionLimits, read_at_most

LIMIT = 100  # the body limit these tests give the door


HELD = "/held"  # a path the app behind the door works on until `Inner.hold` is set


class Inner:
    """The app behind the door: records what it saw; a request to HELD waits for `hold`."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.hold = threading.Event()
        self.entered = threading.Semaphore(0)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.seen.append((environ["PATH_INFO"], environ["wsgi.input"].read()))
        if environ["PATH_INFO"] == HELD:
            self.entered.release()
            self.hold.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class Answer:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}
        self.body = b""

    def start_response(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, dict(headers)


def call(door: Admission, path: str = "/api/videos/v1/comments", body: bytes | None = None,
         chunked: bool = False, stream: Any = None) -> Answer:
    environ: dict[str, Any] = {"PATH_INFO": path, "wsgi.input": stream or io.BytesIO(body or b"")}
    if body is not None and not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    answer = Answer()
    answer.body = b"".join(door(environ, answer.start_response))
    return answer


def limits(active: int = 1, waiting: int = 1, wait_s: float = 0.05, body_readers: int = 4) -> AdmissionLimits:
    return AdmissionLimits(active=active, waiting=waiting, wait_s=wait_s, body_readers=body_readers)


def assert_busy(answer: Answer) -> None:
    assert answer.status.startswith("503"), answer.status
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.body)["error"]["code"] == "unavailable"


def in_thread(fn: Callable[[], Answer]) -> tuple[threading.Thread, list[Answer]]:
    out: list[Answer] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_the_pool_holds_every_bounded_request_and_a_reserve() -> None:
    got = AdmissionLimits.for_threads(16)
    assert (got.active, got.waiting) == (16, 64)
    assert got.pool_threads > got.active + got.waiting + got.body_readers


def test_a_request_beyond_the_work_slots_and_the_waiting_room_gets_503_at_once() -> None:
    inner = Inner()
    door = Admission(inner, limits(active=1, waiting=1, wait_s=5.0), LIMIT)
    busy, busy_answer = in_thread(lambda: call(door, HELD))
    assert inner.entered.acquire(timeout=5)
    waiter, waiter_answer = in_thread(lambda: call(door))
    try:
        eventually(lambda: door.slots.waiting == 1, 5, "the second request never waited")
        assert_busy(call(door))  # the room is full: no wait at all (wait_s is 5 s)
        assert door.shed.labels("queue_full")._value.get() == 1
    finally:
        inner.hold.set()
        busy.join(5)
        waiter.join(5)
    assert busy_answer[0].status.startswith("200")
    assert waiter_answer[0].status.startswith("200")  # it got the slot when the first one left


def test_a_wait_for_a_slot_that_runs_out_is_a_503() -> None:
    inner = Inner()
    door = Admission(inner, limits(active=1, waiting=1, wait_s=0.05), LIMIT)
    busy, _ = in_thread(lambda: call(door, HELD))
    try:
        assert inner.entered.acquire(timeout=5)
        assert_busy(call(door))
        assert door.shed.labels("queue_timeout")._value.get() == 1
        assert door.slots.waiting == 0
    finally:
        inner.hold.set()
        busy.join(5)
    assert door.slots.active == 0
    assert call(door).status.startswith("200")


def test_the_probes_are_never_shed() -> None:
    inner = Inner()
    door = Admission(inner, limits(active=1, waiting=0), LIMIT)
    busy, _ = in_thread(lambda: call(door, HELD))
    try:
        assert inner.entered.acquire(timeout=5)
        assert_busy(call(door))
        for path in ("/healthz", "/readyz", "/metrics"):
            assert call(door, path).status.startswith("200"), path
    finally:
        inner.hold.set()
        busy.join(5)


class Stalled(io.RawIOBase):
    """A body whose client sends nothing more: read() blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reading = threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.reading.set()
        self.release.wait(10)
        return b"{}"


def test_past_the_bodies_being_read_a_request_with_a_body_is_refused_unread_and_its_connection_closed() -> None:
    inner = Inner()
    door = Admission(inner, limits(active=4, waiting=4, body_readers=1), LIMIT)
    stalled = Stalled()
    reader, reader_answer = in_thread(lambda: call(door, body=b"{}", stream=stalled))
    try:
        assert stalled.reading.wait(5)
        assert door.slots.active == 0  # a body being read holds no work slot
        untouched = io.BytesIO(b'{"text": "hi"}')
        answer = call(door, body=b'{"text": "hi"}', stream=untouched)
        assert_busy(answer)
        assert answer.headers["Connection"] == "close"
        assert untouched.tell() == 0, "the refused body was read"
        assert call(door, "/api/videos/v1/comments").status.startswith("200")  # no body: served
    finally:
        stalled.release.set()
        reader.join(5)
    assert reader_answer[0].status.startswith("200")
    assert door.bodies.held == 0


def test_a_body_is_read_before_the_app_runs_and_handed_to_it_whole() -> None:
    inner = Inner()
    door = Admission(inner, limits(), LIMIT)
    assert call(door, body=b'{"text": "hello"}').status.startswith("200")
    assert inner.seen.pop() == ("/api/videos/v1/comments", b'{"text": "hello"}')
    assert call(door, body=b"x" * 500, chunked=True).status.startswith("200")
    assert inner.seen.pop()[1] == b"x" * (LIMIT + 1)  # enough for the app to answer 413
    assert call(door, body=b"y" * 500).status.startswith("200")
    assert inner.seen.pop()[1] == b"y" * 500  # over the limit: left to the app, whose 413 reads none of it


def test_read_at_most_reads_a_stream_that_hands_out_pieces() -> None:
    class Pieces(io.RawIOBase):
        def __init__(self) -> None:
            self.data = b"abcdefgh"

        def read(self, size: int = -1) -> bytes:
            piece, self.data = self.data[:min(size, 3)], self.data[min(size, 3):]
            return piece

    assert read_at_most(Pieces(), 6) == b"abcdef"
    assert read_at_most(Pieces(), 20) == b"abcdefgh"
