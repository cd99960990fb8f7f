"""The overload's clients (`bench overload`): many HTTP/1.1 clients, one kept-alive connection and
one request at a time each, like browsers. Each client posts on its share of an open-loop
schedule; a post that falls due while its client still waits for the previous answer is not
sent (counted as such): the time measured is the server's, from the request on the wire to
its answer, never a queue in the load generator. In a phase that honours Retry-After (as the
page does) a client sends nothing for that long after a 503; in one that does not, it carries
on at its rate. Raw asyncio streams, no HTTP library: the
load generator shares the machine with the server and must cost it little."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from bench.workers import Pipe, _main, _recv

Record = tuple[int, int, int, int, str]  # phase, status (-1: no answer), t_send_ns, t_done_ns, id if 202


@dataclass(frozen=True)
class ClientsConfig:
    index: int
    host: str
    port: int
    video_id: str
    tokens: list[str]  # this process's users, in turn (each well under the rate limit)
    clients: int  # connections of this process
    schedule: list[tuple[int, float, float, bool]]  # (phase, seconds, this process's posts/s, honour Retry-After)
    start_ns: int
    timeout_s: float = 30.0


def request_bytes(host: str, video_id: str, token: str, key: str, text: str) -> bytes:
    body = orjson.dumps({"text": text})
    return (f"POST /api/videos/{video_id}/comments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


@dataclass(frozen=True)
class Head:
    status: int
    length: int  # Content-Length
    close: bool  # the server closes the connection after this answer
    retry_after_s: float  # 0 without the header


def parse_head(head: bytes) -> Head:
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close, retry_after = 0, False, 0.0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"retry-after":
            retry_after = float(value)
    return Head(status, length, close, retry_after)


class Client:
    def __init__(self, config: ClientsConfig) -> None:
        self.config = config
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> tuple[Head, str]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.config.host, self.config.port)
        assert self.reader is not None
        self.writer.write(request)
        head = parse_head((await self.reader.readuntil(b"\r\n\r\n"))[:-4])
        body = await self.reader.readexactly(head.length) if head.length else b""
        if head.close:
            self.close()
        cid = str(orjson.loads(body).get("id", "")) if head.status == 202 else ""
        return head, cid

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = self.reader = None


async def _clients(config: ClientsConfig, pipe: Pipe) -> None:
    records: list[Record] = []
    not_sent: dict[str, int] = defaultdict(int)  # "<phase> waiting" or "<phase> backing off"
    errors: dict[str, int] = defaultdict(int)
    n_tokens = len(config.tokens)
    counter = iter(range(1 << 62))

    async def run(i: int) -> None:
        client = Client(config)
        t_phase = config.start_ns
        for phase, seconds, rate, honour in config.schedule:
            interval = int(1e9 * config.clients / rate)
            phase_end = t_phase + int(seconds * 1e9)
            due = t_phase + int(random.random() * interval)  # spread the clients' first posts  # noqa: S311
            while due < phase_end:
                now = time.monotonic_ns()
                if due > now:
                    await asyncio.sleep((due - now) / 1e9)
                n = next(counter)
                token = config.tokens[(i + n) % n_tokens]
                key = f"overload-{config.index}-{n}"
                request = request_bytes(config.host, config.video_id, token, key, f"overload {config.index} {n}")
                t_send = time.monotonic_ns()
                status, cid, retry_after = -1, "", 0.0
                try:
                    head, cid = await asyncio.wait_for(client.post(request), config.timeout_s)
                    status, retry_after = head.status, head.retry_after_s
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[type(exc).__name__] += 1
                    client.close()
                t_done = time.monotonic_ns()
                records.append((phase, status, t_send, t_done, cid))
                due += interval
                while due < min(t_done, phase_end):  # fell due while this client waited for its answer
                    not_sent[f"{phase} waiting"] += 1
                    due += interval
                if honour and retry_after:  # as the page does: nothing before Retry-After
                    while due < min(t_done + int(retry_after * 1e9), phase_end):
                        not_sent[f"{phase} backing off"] += 1
                        due += interval
            t_phase = phase_end
        client.close()

    pipe.send(("ready", {}))
    delay = (config.start_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
    await asyncio.gather(*(run(i) for i in range(config.clients)))
    pipe.send(("results", {"records": records, "not_sent": dict(not_sent), "errors": dict(errors)}))
    with contextlib.suppress(EOFError):
        await _recv(pipe)


def clients(config: ClientsConfig, _progress: Any, pipe: Pipe) -> None:
    _main(lambda p: _clients(config, p), pipe)
