"""Shedding load at the door: a request is served or refused at once, never queued for long.

Granian hands each request to a Python thread as soon as its headers are in, and queues it
without bound when every thread is taken; a request body is then read on that thread, for as
long as the client takes to send it. So `Admission`, the outermost WSGI layer of each worker
(wiring/web.py), bounds three things with O(1) counters, before the app sees the request:

- bodies being read (`BODY_READERS`): a request with a body first waits for all of it on its
  own thread, outside the work slots, so trickled or stalled bodies cannot take those; past
  the bound a request with a body is refused (503, the connection closed, nothing read);
- requests at work (`AdmissionLimits.active`, the configured threads per worker), and a
  waiting room (`waiting`) where a request waits at most `wait_s` for a slot; a full room, or
  a wait that runs out, is the contract's 503 with `Retry-After` and nothing recorded;
- the pool of granian threads (`AdmissionLimits.pool_threads`) is the sum of those plus a
  reserve, so there is always a thread to refuse on and to answer the probes, which are
  never shed (`UNSHED_PATHS`).

Refusals are counted on the app's metrics (`livecomments_web_shed_total{reason}`), with the
counters themselves as gauges (docs/operations.md, "HTTP limits")."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from webapp.errors import CODES

log = logging.getLogger("livecomments.webapp.admission")

BODY_READERS = 2048  # request bodies read at once per worker (a stalled one holds a thread until it closes)
WAITING_PER_ACTIVE = 4  # the waiting room: this many requests per work slot
WAIT_S = 0.5  # the longest a request waits for a work slot before its 503
RESERVE_THREADS = 64  # threads beyond the bounds: refusals and the probes always find one
UNSHED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_S = 1
LOG_EVERY_S = 10.0  # at most one warning per this many seconds while shedding

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class AdmissionLimits:
    active: int  # requests at work at once (the configured threads per worker)
    waiting: int  # requests waiting for a work slot
    wait_s: float  # how long one may wait
    body_readers: int  # requests whose body is being read

    @classmethod
    def for_threads(cls, threads: int) -> AdmissionLimits:
        threads = max(1, threads)
        return cls(active=threads, waiting=WAITING_PER_ACTIVE * threads, wait_s=WAIT_S, body_readers=BODY_READERS)

    @property
    def pool_threads(self) -> int:
        """Granian's threads per worker: every bounded request has one, and a reserve besides."""
        return self.active + self.waiting + self.body_readers + RESERVE_THREADS


class Gate:
    """At most `limit` holders at once; `enter` says at once whether one more may."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.held >= self.limit:
                return False
            self.held += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.held -= 1


class Slots:
    """At most `limit` at work, and at most `waiting_limit` more waiting up to `wait_s` each
    (woken in arrival order; a newcomer may take a slot that frees before a waiter wakes)."""

    def __init__(self, limit: int, waiting_limit: int, wait_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.waiting_limit, self.wait_s = limit, waiting_limit, wait_s
        self.active = 0
        self.waiting = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)

    def enter(self) -> str | None:
        """None once a slot is taken; else why not: "queue_full" or "queue_timeout"."""
        with self._lock:
            if self.active < self.limit:
                self.active += 1
                return None
            if self.waiting >= self.waiting_limit:
                return "queue_full"
            self.waiting += 1
            deadline = self._clock() + self.wait_s
            try:
                while self.active >= self.limit:
                    left = deadline - self._clock()
                    if left <= 0:
                        return "queue_timeout"
                    self._freed.wait(left)
                self.active += 1
                return None
            finally:
                self.waiting -= 1
                if self.waiting and self.active < self.limit:
                    self._freed.notify()  # a slot this waiter left (timed out or woke late) goes on

    def leave(self) -> None:
        with self._lock:
            self.active -= 1
            if self.waiting:
                self._freed.notify()


def _error_body(message: str) -> bytes:
    return orjson.dumps({"error": {"code": CODES[503], "message": message}})


_BUSY = _error_body("the server is busy; nothing was recorded, try again")
_BODIES = _error_body("the server is reading too many request bodies; nothing was recorded, try again")


def _refuse(start_response: Callable[..., Any], body: bytes, close: bool) -> list[bytes]:
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Retry-After", str(RETRY_AFTER_S))]
    if close:  # the body was not read: the connection cannot carry another request
        headers.append(("Connection", "close"))
    start_response("503 Service Unavailable", headers)
    return [body]


def _has_body(environ: dict[str, Any], limit: int) -> int | None:
    """How many bytes of body to read before the app runs: its length (if within `limit`),
    `limit` + 1 for a chunked one (the app then answers 413 past the limit), else None."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            n = int(length)
        except ValueError:
            return None  # the app answers it
        return n if 0 < n <= limit else None  # over the limit: the app answers 413 without reading
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return limit + 1
    return None


def read_at_most(stream: Any, size: int) -> bytes:
    """Up to `size` bytes of `stream`, fewer only if it ends first."""
    data = stream.read(size)
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return bytes(data)


class Admission:
    """The WSGI layer that bounds bodies read, requests at work and requests waiting (module doc)."""

    def __init__(self, app: WSGIApp, limits: AdmissionLimits, body_limit: int,
                 registry: CollectorRegistry | None = None) -> None:
        self.app, self.limits, self.body_limit = app, limits, body_limit
        self.bodies = Gate(limits.body_readers)
        self.slots = Slots(limits.active, limits.waiting, limits.wait_s)
        self.shed = Counter("livecomments_web_shed", "Requests refused at the door with 503, by reason",
                            ["reason"], registry=registry)
        for reason in ("queue_full", "queue_timeout", "body_readers"):
            self.shed.labels(reason)
        for name, doc, value in (
            ("livecomments_web_requests_active", "Requests at work in this worker", lambda: self.slots.active),
            ("livecomments_web_requests_waiting", "Requests waiting for a work slot", lambda: self.slots.waiting),
            ("livecomments_web_bodies_reading", "Requests whose body is being read", lambda: self.bodies.held),
        ):
            Gauge(name, doc, registry=registry).set_function(value)
        self._last_log = 0.0
        self._since_log = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in UNSHED_PATHS:
            return self.app(environ, start_response)
        size = _has_body(environ, self.body_limit)
        if size is not None:
            if not self.bodies.enter():
                self._count("body_readers")
                return _refuse(start_response, _BODIES, close=True)
            try:
                environ["wsgi.input"] = io.BytesIO(read_at_most(environ["wsgi.input"], size))
            finally:
                self.bodies.leave()
        refused = self.slots.enter()
        if refused is not None:
            self._count(refused)
            return _refuse(start_response, _BUSY, close=False)
        try:
            return self.app(environ, start_response)  # the body is in memory: the app is done when it returns
        finally:
            self.slots.leave()

    def _count(self, reason: str) -> None:
        self.shed.labels(reason).inc()
        self._since_log += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            log.warning("shedding load: %d requests refused with 503 (latest: %s) since the last report",
                        self._since_log, reason)
            self._last_log, self._since_log = now, 0
