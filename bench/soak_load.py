"""The soak's load generator: one process that creates the videos, posts comments over all of
them on an open-loop schedule (a few hot videos get most, the long tail one or two each), sends
a few live reactions, now and then closes the chat of a video, changes the blocked terms of
another or pins a comment, and watches every video's `comments` topic for gaps and duplicates in `seq`.

The first comments go to every video in turn (the warm-up touches each one once, so the tables
bounded by video fill before the measured window); the texts are words of a fixed vocabulary (a
chat's unique words would fill moderation's word caches, bounded at 3 x 65,536 entries, for the
first tens of minutes of any run: docs/operations.md gives that figure on its own).

`VideoPicker`, `SeqChecker` and `Texts` are pure (tests/unit/test_bench_soak.py); the rest is IO.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import os
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench import mqtt
from bench.conn import Endpoint, MqttConnection, open_mqtt
from bench.workers import Pipe, _main, _recv

REACTION_KINDS = ("like", "love", "haha", "wow", "sad", "angry")
CREATE_CONCURRENCY = 16
DRAIN_QUIET_S = 5.0  # after the last post, without a database to ask: no new event for this long, done
DRAIN_MAX_S = 120.0  # the subscriber waits for every video's last seq at most this long
WINDOW_IDLE_S = 60.0  # bridge.windows.IDLE_S: the bridge drops a window not published for this long


def video_ids(count: int) -> list[str]:
    return [f"soak-{i:05d}" for i in range(count)]


class Texts:
    """Comment texts: 2 to 12 words drawn by Zipf's law from a fixed vocabulary of made-up words."""

    def __init__(self, rng: random.Random, words: int = 2000) -> None:
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(words)]
        self._cumulative = list(itertools.accumulate(1.0 / (k + 1) for k in range(words)))
        self._rng = rng

    def next(self) -> str:
        return " ".join(self._rng.choices(self.vocabulary, cum_weights=self._cumulative, k=self._rng.randint(2, 12)))


class VideoPicker:
    """Which video the next action goes to: with probability `uniform_share` any video alike (the
    long tail gets one or two comments each), else by Zipf's law with exponent 1 (video k is
    picked in proportion to 1/(k+1): the first few are hot)."""

    def __init__(self, videos: Sequence[str], uniform_share: float, rng: random.Random) -> None:
        if not videos:
            raise ValueError("no videos to pick from")
        self.videos = list(videos)
        self.uniform_share = uniform_share
        self._rng = rng
        self._cumulative = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(self.videos))))

    def zipf(self) -> str:
        x = self._rng.random() * self._cumulative[-1]
        return self.videos[min(bisect.bisect_left(self._cumulative, x), len(self.videos) - 1)]

    def pick(self) -> str:
        if self._rng.random() < self.uniform_share:
            return self._rng.choice(self.videos)
        return self.zipf()


@dataclass
class SeqChecker:
    """Every video's `seq` as a subscriber of all of them saw it: a video's first batch starts at
    seq 1 (it subscribed before any comment), each next one follows without a gap; a seq at or
    below the last seen is a duplicate (allowed by the contract, counted)."""

    last: dict[str, int] = field(default_factory=dict)
    events: int = 0
    gaps: int = 0  # times a seq skipped ahead
    missing: int = 0  # seqs skipped over in all
    duplicates: int = 0
    gap_examples: list[str] = field(default_factory=list)

    def take(self, video_id: str, seqs: Sequence[int]) -> None:
        last = self.last.get(video_id, 0)
        for seq in seqs:
            self.events += 1
            if seq <= last:
                self.duplicates += 1
                continue
            if seq != last + 1:
                self.gaps += 1
                self.missing += seq - last - 1
                if len(self.gap_examples) < 5:
                    self.gap_examples.append(f"{video_id}: {last} -> {seq}")
            last = seq
        self.last[video_id] = last

    def take_batch(self, payload: bytes) -> None:
        doc = orjson.loads(payload)
        video_id = doc.get("video_id") if isinstance(doc, dict) else None
        events = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(video_id, str) or not isinstance(events, list):
            return
        self.take(video_id, [int(e["seq"]) for e in events if isinstance(e, dict) and "seq" in e])

    def summary(self) -> dict[str, Any]:
        return {"events": self.events, "videos": len(self.last), "gaps": self.gaps, "missing": self.missing,
                "duplicates": self.duplicates, "gap_examples": self.gap_examples}


@dataclass
class RecentViews:
    """Every video's retained `recent` as a subscriber of all of them got it: what the broker holds
    by design (the payloads), and what the bridge's recent windows hold by design (the comments of
    the videos it published in the last WINDOW_IDLE_S, bridge.windows.IDLE_S)."""

    latest: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # topic -> (bytes, comments, when)

    def take(self, topic: str, payload: bytes, now: float) -> None:
        doc = orjson.loads(payload)
        comments = doc.get("comments") if isinstance(doc, dict) else None
        self.latest[topic] = (len(payload), len(comments) if isinstance(comments, list) else 0, now)

    def summary(self, now: float) -> dict[str, int]:
        recent = [n for _b, n, at in self.latest.values() if now - at < WINDOW_IDLE_S]
        return {"videos": len(self.latest), "payload_bytes": sum(b for b, _n, _at in self.latest.values()),
                "videos_in_windows": len(recent), "window_comments": sum(recent)}


@dataclass
class SoakConfig:
    http: str
    mqtt_url: str
    videos: list[str]
    tokens: list[str]  # the posting users, taken in turn
    admin: str  # a token allowed to change a video's settings
    rate: float  # actions per second (comments, and reactions among them)
    seconds: float  # warm-up and measured window, together
    warmup_s: float = 0.0  # of which the warm-up
    reaction_share: float = 0.05  # of the actions: a live reaction to a (mostly hot) video
    uniform_share: float = 0.3  # of the comments: to any video alike, the rest by Zipf's law
    settings_every_s: float = 5.0  # a chat closed, blocked terms changed or a comment pinned, in turn
    seed: int = 1
    timeout_s: float = 30.0
    max_in_flight: int = 500


@dataclass
class _Tally:
    statuses: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    accepted_ids: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    retermed: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    latest: dict[str, str] = field(default_factory=dict)  # video -> an approved comment of it, to pin
    not_sent: int = 0

    def count(self, kind: str, status: int | str) -> None:
        self.statuses[kind][str(status)] += 1


async def _soak(config: SoakConfig, pipe: Pipe) -> None:
    import aiohttp

    rng = random.Random(config.seed)  # noqa: S311 - a reproducible load, not a secret
    picker = VideoPicker(config.videos, config.uniform_share, rng)
    texts = Texts(rng)
    hot = config.videos[: max(1, min(20, len(config.videos)))]
    tally = _Tally()
    checker = SeqChecker()
    last_event = time.monotonic()

    recents = RecentViews()

    def on_publish(conn: MqttConnection, packet: mqtt.Packet, _now: int) -> None:
        nonlocal last_event
        message = mqtt.parse_publish(packet)
        if message.qos and message.packet_id is not None:
            conn.send(mqtt.puback(message.packet_id))
        if message.topic.endswith("/recent"):
            recents.take(message.topic, message.payload, time.monotonic())
            return
        checker.take_batch(message.payload)
        last_event = time.monotonic()

    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        def auth(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        async def call(kind: str, method: str, path: str, body: Any, token: str) -> tuple[int, Any]:
            try:
                async with session.request(method, config.http + path, data=orjson.dumps(body),
                                           headers=auth(token)) as response:
                    data = await response.read()
                    tally.count(kind, response.status)
                    return response.status, (orjson.loads(data) if data else None)
            except (TimeoutError, aiohttp.ClientError, OSError, orjson.JSONDecodeError) as exc:
                tally.count(kind, type(exc).__name__)
                return -1, None

        # the videos, CREATE_CONCURRENCY at a time
        t0 = time.monotonic()
        queue = iter(config.videos)

        async def creator() -> None:
            for video_id in queue:
                await call("create video", "POST", "/api/videos", {"id": video_id, "title": "soak"}, config.admin)

        await asyncio.gather(*(creator() for _ in range(CREATE_CONCURRENCY)))
        created = int(tally.statuses["create video"].get("201", 0))
        checker_conn = await open_mqtt(Endpoint(config.mqtt_url), f"bench-soak-{os.getpid()}", on_publish)
        await checker_conn.subscribe([("live/videos/+/comments", 1), ("live/videos/+/recent", 0)])
        pipe.send(("ready", {"created": created, "create_seconds": round(time.monotonic() - t0, 1)}))
        start_ns = int((await _recv(pipe))[1])

        in_flight = 0
        tasks: set[asyncio.Task[None]] = set()
        users = itertools.cycle(config.tokens)
        terms_round = itertools.count()

        async def comment(video_id: str, token: str, n: int) -> None:
            nonlocal in_flight
            try:
                status, body = await call("comment", "POST", f"/api/videos/{video_id}/comments",
                                          {"text": texts.next()}, token)
                if status == 202 and isinstance(body, dict):
                    tally.accepted_ids.append(str(body.get("id")))
                    tally.latest[video_id] = str(body.get("id"))
            finally:
                in_flight -= 1

        async def reaction(video_id: str, token: str) -> None:
            nonlocal in_flight
            try:
                await call("live reaction", "POST", f"/api/videos/{video_id}/reactions",
                           {"kind": rng.choice(REACTION_KINDS)}, token)
            finally:
                in_flight -= 1

        async def moderate(n: int) -> None:
            """In turn: a video ends (its chat closes: later posts to it are refused), a video's blocked
            terms change (the bridge's copy must be replaced), a comment is pinned (an event the web
            app appends to the video's stream, not the bridge)."""
            nonlocal in_flight
            try:
                video_id = rng.choice(config.videos[len(hot):] or config.videos)
                if n % 3 == 0:
                    status, _ = await call("close chat", "PATCH", f"/api/videos/{video_id}/settings",
                                           {"chat": "closed"}, config.admin)
                    if status == 200:
                        tally.closed.append(video_id)
                elif n % 3 == 1:
                    status, _ = await call("blocked terms", "PATCH", f"/api/videos/{video_id}/settings",
                                           {"blocked_terms": [f"soakterm{next(terms_round)}"]}, config.admin)
                    if status == 200:
                        tally.retermed.append(video_id)
                elif tally.latest:
                    video_id, comment_id = rng.choice(list(tally.latest.items()))
                    status, _ = await call("pin", "PUT", f"/api/videos/{video_id}/pin", {"comment_id": comment_id},
                                           config.admin)
                    if status == 204:
                        tally.pinned.append(video_id)
            finally:
                in_flight -= 1

        def launch(coro: Any) -> None:
            nonlocal in_flight
            in_flight += 1
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        first_round = iter(config.videos)
        measured_from: int | None = start_ns + int(config.warmup_s * 1e9)
        at_start: dict[str, int] = {}
        delay = (start_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        end_ns = start_ns + int(config.seconds * 1e9)
        every_settings_ns = int(config.settings_every_s * 1e9)
        next_settings, settings_n = start_ns + every_settings_ns, 0
        for n in itertools.count():
            due = start_ns + int(n * 1e9 / config.rate)
            if due >= end_ns:
                break
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
            if in_flight >= config.max_in_flight:
                tally.not_sent += 1  # the system holds us back: this action is dropped, the schedule goes on
                continue
            if now >= next_settings:
                launch(moderate(settings_n))
                settings_n += 1
                next_settings += every_settings_ns
            if rng.random() < config.reaction_share:
                launch(reaction(rng.choice(hot) if rng.random() < 0.8 else picker.pick(), next(users)))
            else:
                video_id = next(first_round, None) or picker.pick()  # every video once, first
                launch(comment(video_id, next(users), n))
            if measured_from is not None and now >= measured_from:
                measured_from, at_start = None, recents.summary(time.monotonic())
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
        posted_at = time.monotonic()
        pipe.send(("posted", {}))
        expected: dict[str, int] = (await _recv(pipe))[1]  # each video's last seq, once the system settled
        while time.monotonic() - posted_at < DRAIN_MAX_S:
            if expected and all(checker.last.get(v, 0) >= seq for v, seq in expected.items()):
                break
            if not expected and time.monotonic() - last_event >= DRAIN_QUIET_S:
                break  # no database to ask: done once nothing came for a while
            await asyncio.sleep(0.2)
        checker_conn.close()
    pipe.send(("results", {
        "statuses": {k: dict(v) for k, v in tally.statuses.items()}, "accepted_ids": tally.accepted_ids,
        "closed": tally.closed, "retermed": tally.retermed, "pinned": tally.pinned, "not_sent": tally.not_sent,
        "checker": checker.summary(), "last_seq_seen": checker.last,
        "recent_views": {"measure_start": at_start, "end": recents.summary(posted_at)},
        "drain_seconds": round(time.monotonic() - posted_at, 1),
    }))
    with contextlib.suppress(EOFError, OSError):
        await _recv(pipe)


def soak(config: SoakConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _soak(config, p), pipe)
