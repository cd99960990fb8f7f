"""`livecomments bench flood`: posting and delivery while abusive HTTP connections are held.

A flood process (`flood`) keeps `--connections` HTTP connections open against the web app for
the whole run, a third of each kind: idle (connected, nothing sent), slowloris (a request head
sent a byte every TRICKLE_EVERY_S) and trickled bodies (a complete POST head, then its body a
byte every TRICKLE_EVERY_S). Whatever the server closes is opened again at once, so the flood
stays at its size. Meanwhile the `normal` delivery runs (`--rate` posts/s to `--viewers` MQTT
viewers, 2,000 by default): post → 202 and post → viewer times, loss, statuses. The flood
reports how many of each kind it held (sampled every second), how many the server closed and
the answers it got (a 503 for a body past the web app's bound on bodies read)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from bench.system import Target
from bench.workers import Pipe, Worker, _main, _recv
from livecomments import tokens

KINDS = ("idle", "slow headers", "slow bodies")
TRICKLE_EVERY_S = 2.0
OPEN_CONCURRENCY = 200  # connections being opened at once
BODY_LENGTH = 500  # the trickled body's Content-Length: 250 s at a byte every 2 s


@dataclass(frozen=True)
class FloodConfig:
    host: str
    port: int
    counts: tuple[int, int, int]  # idle, slow headers, slow bodies
    video_id: str
    token: str  # a real user's: the trickled bodies are posts that would be accepted
    trickle_every_s: float = TRICKLE_EVERY_S


def split_kinds(total: int) -> tuple[int, int, int]:
    third = total // 3
    return third, third, total - 2 * third


class FloodConnection:
    """One abusive connection: its first bytes, then a byte per trickle; notes when the server closes it."""

    def __init__(self, kind: str, first: bytes) -> None:
        self.kind, self.first = kind, first
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None
        self.answer = b""

    async def open(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.answer = b""
        if self.first:
            self.writer.write(self.first)

    def trickle(self) -> None:
        if self.writer is not None and self.kind != "idle" and not self.writer.is_closing():
            self.writer.write(b"a" if self.kind == "slow headers" else b" ")

    async def closed_by_server(self) -> bytes:
        """Waits until the server closes it; what it answered first (b"" for none)."""
        assert self.reader is not None
        with contextlib.suppress(OSError):
            while data := await self.reader.read(4096):
                if not self.answer:
                    self.answer = data[:64]
        return self.answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def first_bytes(kind: str, video_id: str, token: str) -> bytes:
    if kind == "idle":
        return b""
    if kind == "slow headers":
        return f"GET /api/videos/{video_id}/comments HTTP/1.1\r\nHost: bench\r\nX-Slow: ".encode()
    return (f"POST /api/videos/{video_id}/comments HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY_LENGTH}\r\n\r\n{{").encode()


async def _flood(config: FloodConfig, pipe: Pipe) -> None:
    conns = [FloodConnection(kind, first_bytes(kind, config.video_id, config.token))
             for kind, n in zip(KINDS, config.counts, strict=True) for _ in range(n)]
    held: dict[str, int] = defaultdict(int)
    closed: dict[str, int] = defaultdict(int)
    answers: dict[str, int] = defaultdict(int)
    open_errors: dict[str, int] = defaultdict(int)
    samples: dict[str, list[int]] = {kind: [] for kind in KINDS}
    opening = asyncio.Semaphore(OPEN_CONCURRENCY)
    stopping = asyncio.Event()
    started = time.monotonic()

    async def keep(conn: FloodConnection) -> None:
        while not stopping.is_set():
            async with opening:
                try:
                    await conn.open(config.host, config.port)
                except OSError as exc:
                    open_errors[type(exc).__name__] += 1
                    await asyncio.sleep(0.5)
                    continue
            held[conn.kind] += 1
            answer = await conn.closed_by_server()
            held[conn.kind] -= 1
            if stopping.is_set():
                break
            closed[conn.kind] += 1
            status = answer.split(b" ", 2)[1].decode(errors="replace") if answer.startswith(b"HTTP/") else "none"
            answers[f"{conn.kind}: {status}"] += 1
            conn.close()

    async def trickle() -> None:
        while not stopping.is_set():
            await asyncio.sleep(config.trickle_every_s)
            for conn in conns:
                conn.trickle()

    async def sample() -> None:
        while not stopping.is_set():
            await asyncio.sleep(1.0)
            for kind in KINDS:
                samples[kind].append(held[kind])

    tasks = [asyncio.create_task(keep(c)) for c in conns] + [asyncio.create_task(trickle()),
                                                             asyncio.create_task(sample())]
    wanted = sum(config.counts)
    while sum(held.values()) < wanted and time.monotonic() - started < 60:
        await asyncio.sleep(0.1)
    pipe.send(("ready", {"held": dict(held), "seconds": round(time.monotonic() - started, 2)}))
    await _recv(pipe)  # "report"
    stopping.set()
    for conn in conns:
        conn.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(("results", {
        "asked": dict(zip(KINDS, config.counts, strict=True)),
        "held": {kind: {"min": min(v, default=0), "mean": round(sum(v) / len(v), 1) if v else 0,
                        "max": max(v, default=0)} for kind, v in samples.items()},
        "closed_by_server": dict(closed), "answers_before_close": dict(answers), "open_errors": dict(open_errors),
        "seconds": round(time.monotonic() - started, 1),
    }))
    await _recv(pipe)


def flood(config: FloodConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _flood(config, p), pipe)


def host_port(http: str) -> tuple[str, int]:
    hostport = http.split("://", 1)[1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


def run_flood(options: Any, target: Target) -> dict[str, Any]:
    """The flood held while `delivery` runs (bench.run, like `normal`); both reports in one result."""
    from bench.run import delivery

    if target.secret is None:
        raise RuntimeError("the flood needs the target's token secret (--secret or LIVECOMMENTS_SECRET)")
    host, port = host_port(target.http)
    token = tokens.issue(target.secret, "bench-flood", "Bench flood", (), 7200)
    config = FloodConfig(host, port, split_kinds(options.connections), "bench-flood", token)
    worker = Worker.spawn("flood", flood, config)
    try:
        ready = worker.recv(timeout=120)[1]
        cpu_before = _cpu_s(worker.pid)
        result = delivery(replace(options, bare=False), target)
        cpu_s = _cpu_s(worker.pid) - cpu_before
        worker.send(("report",))
        report = worker.recv(timeout=60)[1]
    finally:
        worker.stop()
    result["flood"] = {"ready": ready, **report, "trickle_every_s": config.trickle_every_s,
                       "flood_process_cpu_s": round(cpu_s, 2)}
    return result


def _cpu_s(pid: int | None) -> float:
    import psutil

    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)
