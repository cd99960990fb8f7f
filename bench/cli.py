"""`livecomments bench SCENARIO`: the command's arguments. Light on purpose: the CLI imports
this module whenever it builds its parser; the benchmark itself loads only when run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SCENARIOS = ("normal", "hot", "bridge", "edge", "join", "embedded", "post", "soak", "flood", "overload")

HELP = {
    "normal": "100 comments/s over HTTP to 1,000 WebSocket viewers, 60 s (production stack)",
    "hot": "2,000 comments/s over HTTP to 100 viewers, 60 s (production stack)",
    "bridge": "ingest published straight to the broker, as fast as the bridge takes it",
    "edge": "idle WebSocket viewers one Mosquitto holds, and memory per connection",
    "join": "time from subscribing to the retained recent comments on screen",
    "embedded": "amqtt + SQLite: 100 comments/s to 100 viewers",
    "post": "the web app's CPU per accepted post (300/s, 30 s) beside a bare endpoint on the same server and workers",
    "soak": "memory of every process over a long run: 100 comments/s over 10,000 videos for 600 s "
            "(embedded default), RSS sampled every 5 s, judged flat or growing",
    "flood": "100 comments/s to 2,000 viewers while 2,000 idle, slowloris and trickled-body HTTP connections "
             "are held, 30 s (post → 202 p50/p99, refusals)",
    "overload": "3,000 posts/s offered over 1,000 connections, beyond what the web app takes, 20 s: the share "
                "of 503s, the time to a 503 and to a 202",
}


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark scenario (design.md's performance targets)",
        description="Starts the system on free ports (or targets a running one), loads it, and prints a table "
        "beside the bare broker doing the same delivery; writes bench-results/<scenario>-<time>.json and .png. "
        + " ".join(f"{name}: {text}." for name, text in HELP.items()),
    )
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--duration", type=float, help="seconds to measure (scenario default otherwise)")
    p.add_argument("--rate", type=float, help="comments posted per second")
    p.add_argument("--viewers", type=int, help="viewers (edge: connections to open; join: joins)")
    p.add_argument("--videos", type=int, help="soak: videos the comments are spread over (default 10,000)")
    p.add_argument("--connections", type=int,
                   help="flood: abusive HTTP connections held (default 2,000); overload: client connections (1,000)")
    p.add_argument("--warmup", type=float, help="seconds of load before measuring (default 5)")
    p.add_argument("--bare-duration", type=float, help="seconds of the bare-broker phase (default min(duration, 20))")
    p.add_argument("--no-bare", action="store_true", help="skip the bare-broker phase")
    p.add_argument("--transport", choices=("ws", "tcp"), default="ws", help="viewers' transport (default ws)")
    p.add_argument("--topics", choices=("page", "comments"), default="page",
                   help="what a viewer subscribes to: the page's comments+recent+state (default) or comments only")
    p.add_argument("--viewer-procs", type=int, help="viewer processes (default by viewer count)")
    p.add_argument("--poster-procs", type=int, help="posting processes (default 1 per 1,000 comments/s)")
    p.add_argument("--users", type=int, help="distinct posting users (default: enough to stay under the rate limit)")
    p.add_argument("--stack", choices=("production", "embedded"),
                   help="what to start (default: embedded for `embedded` and `soak`, production otherwise)")
    p.add_argument("--target", action="append", default=[], metavar="URL",
                   help="a running system instead of starting one: http://…, mqtt://…, ws://…/mqtt (all three)")
    p.add_argument("--secret", help="the target's token secret (default LIVECOMMENTS_SECRET)")
    p.add_argument("--database-url", help="the target's database, to check every accepted id (optional)")
    p.add_argument("--data-dir", type=Path, help="the target's data dir (service passwords for the bare phase)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="where JSON and PNG go")
    p.add_argument("--keep", action="store_true", help="keep the started system's data dir and logs")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace, _settings: Any) -> int:
    from bench.run import main

    return main(args)
