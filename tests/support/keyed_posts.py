"""Clients that post as a careful app would through a failure: each comment with an
`Idempotency-Key` of its own, retried with the same key on a lost connection or a 503 until it
gets its 202. They record every try (`Tally`), so a test can say what the failure cost and that
nothing was lost or duplicated."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import requests
from sqlalchemy import create_engine, text

from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.waiting import eventually


@dataclass(frozen=True)
class Try:
    """One request: when it started (monotonic), how long it took, and what came back."""

    key: str
    started: float
    elapsed: float
    status: int | None  # None: no HTTP answer (`error` says why)
    error: str | None = None
    retry_after: str | None = None
    code: str | None = None  # the error body's code


@dataclass
class Tally:
    """Every try of every client, and every 202's id per key."""

    ids: dict[str, list[str]] = field(default_factory=dict)  # key -> the id of every 202 it got
    users: dict[str, str] = field(default_factory=dict)  # key -> its author
    tries: list[Try] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: int = 0  # 202s so far

    def record(self, attempt: Try, user: str, comment_id: str | None = None) -> None:
        with self.lock:
            self.tries.append(attempt)
            if comment_id is not None:
                self.ids.setdefault(attempt.key, []).append(comment_id)
                self.users[attempt.key] = user
                self.posted += 1

    def retries(self) -> Counter[str]:
        """Why tries were not a 202: an HTTP status, or the exception's name."""
        with self.lock:
            return Counter(str(t.status) if t.status is not None else str(t.error) for t in self.tries
                           if t.status != 202)

    def first_ids(self) -> dict[str, str]:
        """Each key's id, asserting every 202 it got carried the same one."""
        first = {}
        for key, ids in self.ids.items():
            assert len(set(ids)) == 1, f"{key} was answered with {ids}"
            first[key] = ids[0]
        return first


def post_until_accepted(api: Api, tally: Tally, video_id: str, key: str, user: str, body: str, *,
                        replays: int = 0, timeout_s: float = 10.0, give_up_s: float = 60.0) -> None:
    """Post with `key` until a 202 (retrying with the same key on a lost connection or a 503),
    then `replays` more times with the same key, as a client that lost the answer would. Any
    other status fails the test."""
    url = f"{api.base}/api/videos/{video_id}/comments"
    headers = api.headers(user, **{"Idempotency-Key": key})
    deadline = time.monotonic() + give_up_s
    answered = 0
    while answered <= replays:
        assert time.monotonic() < deadline, f"{key}: no 202 in {give_up_s:g} s ({tally.retries()})"
        started = time.monotonic()
        try:
            response = requests.post(url, json={"text": body}, headers=headers, timeout=timeout_s)
        except requests.RequestException as exc:  # the server died under it, or it never answered
            tally.record(Try(key, started, time.monotonic() - started, None, type(exc).__name__), user)
            time.sleep(0.05)
            continue
        elapsed = time.monotonic() - started
        if response.status_code == 202:
            tally.record(Try(key, started, elapsed, 202), user, response.json()["id"])
            answered += 1
            continue
        code = response.json().get("error", {}).get("code") if response.content else None
        tally.record(Try(key, started, elapsed, response.status_code, None, response.headers.get("Retry-After"),
                         code), user)
        assert response.status_code == 503, (response.status_code, response.text)  # never a 500
        time.sleep(0.05)


def keep_posting(api: Api, tally: Tally, video_id: str, client: int, stop: threading.Event,
                 users: int = 30) -> None:
    """Post one key after another (each until its 202; every tenth replayed once) until `stop`.
    The authors take turns, so a client stays far under the rate limit."""
    i = 0
    while not stop.is_set():
        post_until_accepted(api, tally, video_id, f"c{client}-{i}", f"c{client}u{i % users}",
                            f"client {client} post {i}", replays=1 if i % 10 == 0 else 0)
        i += 1


def wait_posted(tally: Tally, clients: Sequence[Future[None]], more: int, timeout_s: float = 40.0) -> None:
    """Until `more` further posts are accepted (or a client of `keep_posting` stopped: its
    failure then shows when its future's result is read)."""
    at = tally.posted + more
    eventually(lambda: tally.posted >= at or any(c.done() for c in clients), timeout_s, "the clients stopped")


def stored(database_url: str, video_id: str) -> list[tuple[str, str, str | None, int | None]]:
    """(id, user, key, seq) of every comment row of the video."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, user_id, idempotency_key, seq FROM comments WHERE video_id = :v"),
                                {"v": video_id}).all()
            return [(r.id, r.user_id, r.idempotency_key, r.seq) for r in rows]
    finally:
        engine.dispose()


def assert_stored_once_and_delivered(tally: Tally, database_url: str, live: Collector, video_id: str,
                                     timeout_s: float = 40.0) -> None:
    """Every key that got a 202 is one row with the key's first id, numbered, seq gapless from 1;
    no other row; and each of them was delivered on live/ under its seq (once per seq)."""
    first = tally.first_ids()
    keys = set(first)

    def numbered() -> list[tuple[str, str, str | None, int | None]] | None:
        rows = stored(database_url, video_id)
        return rows if len(rows) >= len(keys) and all(seq is not None for *_r, seq in rows) else None

    rows = eventually(numbered, timeout_s, "not every accepted comment was stored and numbered", interval=0.2)
    assert len(rows) == len(keys), "a comment was stored twice, or one nobody was answered 202 for"
    assert {(user, key): cid for cid, user, key, _seq in rows} == {(tally.users[k], k): first[k] for k in keys}
    assert sorted(seq for *_r, seq in rows) == list(range(1, len(keys) + 1))

    topic = f"live/videos/{video_id}/comments"
    live.wait_for(lambda _m: len({e["seq"] for e in live.events(topic)}) >= len(keys), timeout=timeout_s)
    by_seq: dict[int, str] = {}
    for event in live.events(topic):  # a redelivered event must be the very same event
        assert by_seq.setdefault(event["seq"], event["comment"]["id"]) == event["comment"]["id"]
    assert sorted(by_seq) == list(range(1, len(keys) + 1))  # gapless
    assert sorted(by_seq.values()) == sorted(first.values())  # each accepted comment under one seq
