"""Which WSGI server costs least per request: the bare endpoint (bench/bare_app.py) served by
each candidate, posted to at one fixed rate, server CPU (every process of it) per answered
request. `python -m bench.servers [--rate R] [--seconds S]`; the figures behind the choice of
server in docs/operations.md."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Sequence

import psutil

from bench.system import ROOT, wait_for_port
from infra.ports import free_port

APP = "bench.bare_app:create_app"


def candidates(port: int) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "waitress, 16 threads": [py, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", "16",
                                 "--call", APP],
        "gunicorn sync, 1 worker": [py, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", f"{APP}()"],
        "gunicorn gthread, 1 worker x 16 threads": [py, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
                                                   "-k", "gthread", "--threads", "16", f"{APP}()"],
        "granian wsgi, 1 worker": [py, "-m", "granian", "--interface", "wsgi", "--factory", "--host", "127.0.0.1",
                                   "--port", str(port), "--workers", "1", "--no-ws", "--log-level", "warning", APP],
        "granian wsgi, 2 workers": [py, "-m", "granian", "--interface", "wsgi", "--factory", "--host", "127.0.0.1",
                                    "--port", str(port), "--workers", "2", "--no-ws", "--log-level", "warning", APP],
    }


def tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


async def load(url: str, rate: float, seconds: float, connections: int) -> tuple[int, int]:
    import aiohttp
    import orjson

    ok = failed = 0
    body = orjson.dumps({"text": "a comment of ordinary length, to parse like the real one"})
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one() -> None:
            nonlocal ok, failed
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok += response.status == 202
                    failed += response.status != 202
            except (aiohttp.ClientError, OSError, TimeoutError):
                failed += 1

        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return ok, failed


def measure(name: str, argv: Sequence[str], port: int, rate: float, seconds: float) -> dict[str, object]:
    proc = subprocess.Popen(list(argv), cwd=ROOT, stdout=subprocess.DEVNULL,  # noqa: S603 - our own servers
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, 30, proc)
        url = f"http://127.0.0.1:{port}/api/videos/v1/comments"
        asyncio.run(load(url, rate, 2.0, 32))  # warm up
        server = psutil.Process(proc.pid)
        before, t0 = tree_cpu(server), time.monotonic()
        ok, failed = asyncio.run(load(url, rate, seconds, 32))
        cpu, wall = tree_cpu(server) - before, time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(15)
    return {"server": name, "answered_202": ok, "failed": failed, "requests_per_s": round(ok / wall, 1),
            "server_cpu_ms_per_request": round(cpu * 1000 / ok, 3) if ok else None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(f"bare endpoint (parse JSON, answer 202) at {args.rate:g} requests/s for {args.seconds:g} s, "
          f"{psutil.cpu_count()} cores")
    for name in candidates(0):
        port = free_port()
        row = measure(name, candidates(port)[name], port, args.rate, args.seconds)
        print(f"{name:42s} {row['server_cpu_ms_per_request']} ms CPU/request  "
              f"{row['requests_per_s']} req/s  {row['failed']} failed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
