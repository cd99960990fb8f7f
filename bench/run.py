"""Running one scenario: start (or find) the system, start the load generators, warm up,
measure, check every accepted id, measure the bare broker doing the same delivery, report."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import math
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import report
from bench.conn import Endpoint, raise_nofile_limit
from bench.monitor import Monitor, load_average, postgres_pids
from bench.presence import presence_summary, read_presence
from bench.stats import (
    Histogram,
    LatencySummary,
    Loss,
    LossTotals,
    Phase,
    bytes_by_kind,
    cpu_ms_per,
    parse_histograms,
    rate_summary,
    ratio,
    second_of,
    throughput,
    total_loss,
)
from bench.system import (
    EMBEDDED,
    PRODUCTION,
    ROOT,
    LocalSystem,
    RemoteSystem,
    StackSpec,
    StartError,
    Target,
    create_video,
    process_tree,
    wait_for_port,
    wait_ready,
)
from bench.workers import (
    ConsumerConfig,
    IngestConfig,
    JoinConfig,
    PosterConfig,
    PublisherConfig,
    ViewerConfig,
    Worker,
    bare_consumer,
    bare_publisher,
    floats,
    ingest,
    joiners,
    new_counter,
    posters,
    viewers,
)
from livecomments import tokens

log = logging.getLogger("bench")

RATE_LIMIT_COUNT, RATE_LIMIT_WINDOW_S = 20, 30  # the contract's defaults: a user posts 20 per 30 s per video
DRAIN_TIMEOUT_S = 30.0
# Kept-alive HTTP connections, all posting processes together: like a proxy's pool in front of
# the web app (and below waitress's connection_limit of 100, for `up`'s embedded server).
HTTP_CONNECTIONS = 64


@dataclass(frozen=True)
class Options:
    scenario: str
    duration: float
    rate: float
    viewers: int
    warmup: float
    bare_duration: float
    bare: bool
    transport: str
    topics: str
    viewer_procs: int
    poster_procs: int
    users: int
    stack: StackSpec
    targets: tuple[str, ...] = ()
    secret: str | None = None
    database_url: str | None = None
    data_dir: Path | None = None
    out: Path = Path("bench-results")
    keep: bool = False
    command: str = ""
    videos: int = 0  # soak: the videos the comments go to
    connections: int = 0  # flood: abusive HTTP connections; overload: the clients' connections


DEFAULTS: dict[str, dict[str, float]] = {
    "normal": {"duration": 60, "rate": 100, "viewers": 1000},
    "hot": {"duration": 60, "rate": 2000, "viewers": 100},
    "bridge": {"duration": 30, "rate": 0, "viewers": 1},
    "edge": {"duration": 10, "rate": 0, "viewers": 12000},
    "join": {"duration": 30, "rate": 20, "viewers": 600},
    "embedded": {"duration": 60, "rate": 100, "viewers": 100},
    "post": {"duration": 30, "rate": 300, "viewers": 1},
    "soak": {"duration": 600, "rate": 100, "viewers": 0, "videos": 10_000},
    "flood": {"duration": 30, "rate": 100, "viewers": 2000, "connections": 2000},
    "overload": {"duration": 20, "rate": 3000, "viewers": 0, "connections": 1000},
}


def options_from(args: argparse.Namespace) -> Options:
    d = DEFAULTS[args.scenario]
    duration = float(args.duration if args.duration is not None else d["duration"])
    rate = float(args.rate if args.rate is not None else d["rate"])
    n_viewers = int(args.viewers if args.viewers is not None else d["viewers"])
    stack_name = args.stack or ("embedded" if args.scenario in ("embedded", "soak") else "production")
    videos = int(getattr(args, "videos", None) or d.get("videos", 0))
    # a soak warms up until every video had its first comment, and 30 s more: the tables bounded by video fill
    default_warmup = min(5.0, max(1.0, duration / 4))
    if args.scenario == "soak":
        default_warmup = videos / rate + 30 if rate else 60.0
    default_viewer_procs = 4 if args.scenario == "edge" else 1 if n_viewers <= 200 else 2
    poster_procs = args.poster_procs or max(1, math.ceil(rate / 1000))
    users = args.users or max(10, math.ceil(rate * RATE_LIMIT_WINDOW_S / RATE_LIMIT_COUNT * 2))
    return Options(
        scenario=args.scenario, duration=duration, rate=rate, viewers=n_viewers,
        warmup=float(args.warmup if args.warmup is not None else default_warmup),
        bare_duration=float(args.bare_duration if args.bare_duration is not None else min(duration, 20.0)),
        bare=not args.no_bare, transport=args.transport, topics=args.topics,
        viewer_procs=max(1, min(args.viewer_procs or default_viewer_procs, n_viewers)), poster_procs=poster_procs,
        users=users, stack=EMBEDDED if stack_name == "embedded" else PRODUCTION, targets=tuple(args.target),
        secret=args.secret or os.environ.get("LIVECOMMENTS_SECRET"), database_url=args.database_url,
        data_dir=args.data_dir, out=args.out, keep=args.keep,
        command="livecomments " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "",
        videos=videos,
        connections=int(getattr(args, "connections", None) or d.get("connections", 0)),
    )


def main(args: argparse.Namespace) -> int:
    logging.getLogger("bench").setLevel(args.log_level.upper())
    options = options_from(args)
    raise_nofile_limit()
    try:
        result = run(options)
    except StartError as exc:
        print(f"livecomments bench: {exc}", file=sys.stderr)
        return 1
    paths = report.write(result, options.out)
    print(report.table(result))
    print("\n".join(f"wrote {p}" for p in paths))
    return 0


def run(options: Options) -> dict[str, Any]:
    from bench.http_flood import run_flood
    from bench.overload import run_overload
    from bench.soak import run_soak

    runner = {"normal": delivery, "hot": delivery, "embedded": delivery, "bridge": bridge_alone,
              "edge": edge, "join": join, "post": post_cost, "soak": run_soak, "flood": run_flood,
              "overload": run_overload}[options.scenario]
    started = datetime.datetime.now(datetime.UTC)
    load_before = load_average()
    with system_for(options) as target:
        result = runner(options, target)
        result["system"] = target.description
        result["notes"] = list(target.notes) + result.get("notes", [])
    result.update(
        scenario=options.scenario,
        started_at=started.isoformat(timespec="seconds"),
        command=options.command,
        options={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()
                 if k not in ("stack", "secret", "command")} | {"stack": options.stack.name},
        machine={"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                 "load_average_before": load_before, "load_average_after": load_average()},
    )
    result["targets"] = report.check_targets(result)
    return result


@contextlib.contextmanager
def system_for(options: Options) -> Iterator[Target]:
    if options.targets:
        yield RemoteSystem.from_urls(options.targets, options.secret, options.database_url, options.data_dir)
        return
    spec = options.stack
    if options.scenario == "edge":
        spec = replace(spec, database="sqlite", redis=False, web=False, bridge=False)
    with LocalSystem(spec, keep=options.keep) as system:
        yield system


# --- helpers ------------------------------------------------------------------------------------


class Fleet:
    """Every load-generator process of a run, for sampling and for stopping."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []

    def add(self, worker: Worker) -> Worker:
        self.workers.append(worker)
        return worker

    def pids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {"load: coordinator": [os.getpid()]}
        for w in self.workers:
            if w.proc.is_alive() and w.pid is not None:
                out.setdefault(f"load: {w.name.split('-')[0]}", []).append(w.pid)
        return out

    def stop(self) -> None:
        for w in self.workers:
            w.stop()


def roles_of(target: Target, fleet: Fleet) -> Monitor:
    def roles() -> dict[str, list[int]]:
        out = target.processes()
        pg = postgres_pids(target.postgres_database())
        if pg:
            out["postgres"] = pg
        out.update(fleet.pids())
        return out

    return Monitor(roles)


def scrape_histograms(url: str | None) -> dict[str, Histogram] | None:
    """The histograms on a service's /metrics (the bridge's), or None if there is none to ask."""
    if url is None:
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
            return parse_histograms(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        log.warning("could not scrape %s", url)
        return None


class Scrape:
    """The bridge's histograms at one moment (now, or later from a timer thread) and again at the end."""

    def __init__(self, url: str | None, at_ns: int | None = None) -> None:
        self.url = url
        self.before: dict[str, Histogram] | None = None
        self._timer: threading.Timer | None = None
        delay = max(0.0, (at_ns - time.monotonic_ns()) / 1e9) if at_ns is not None else 0.0
        if url is not None and delay > 0:
            self._timer = threading.Timer(delay, self._take)
            self._timer.daemon = True
            self._timer.start()
        else:
            self._take()

    def _take(self) -> None:
        self.before = scrape_histograms(self.url)

    def delta(self) -> dict[str, Histogram] | None:
        if self._timer is not None:
            self._timer.join(30)
        after = scrape_histograms(self.url)
        if after is None or self.before is None:
            return None
        return {name: h.minus(self.before.get(name)) for name, h in after.items()}


def live_topic(video_id: str, leaf: str) -> str:
    return f"live/videos/{video_id}/{leaf}"


def viewer_topics(options: Options, video_id: str) -> list[str]:
    if options.topics == "comments":
        return [live_topic(video_id, "comments")]
    return [live_topic(video_id, leaf) for leaf in ("comments", "recent", "state")]  # as webapp/static/viewer.js


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def start_viewers(fleet: Fleet, options: Options, endpoint: Endpoint, topics: list[str], timed: list[str],
                  origin_ns: int, count: int, procs: int,
                  presence: str | None = None) -> tuple[list[Worker], dict[str, Any]]:
    workers = []
    for i, n in enumerate(split(count, procs)):
        if n:
            config = ViewerConfig(i, n, endpoint.url, topics, timed, origin_ns, presence=presence)
            workers.append(fleet.add(Worker.spawn(f"viewers-{i}", viewers, config, new_counter())))
    ready = [w.recv(timeout=max(120.0, count / 20)) for w in workers]
    info = {
        "connected": sum(r[1]["connected"] for r in ready),
        "failed": sum(r[1]["failed"] for r in ready),
        "errors": sorted({e for r in ready for e in r[1]["errors"]})[:5],
        "connect_seconds": round(max(r[1]["seconds"] for r in ready), 2),
        "connect_ms": LatencySummary.of([ms for r in ready for ms in r[1]["connect_ms"]]),
    }
    return workers, info


def received(workers: Sequence[Worker]) -> int:
    return sum(int(w.progress.value) for w in workers)


def drain(workers: Sequence[Worker], want: int, timeout: float = DRAIN_TIMEOUT_S) -> float:
    """Wait until the viewers hold `want` benchmark comments in all (or time out); seconds waited."""
    started = time.monotonic()
    last, last_change = -1, started
    while time.monotonic() - started < timeout:
        got = received(workers)
        if got >= want:
            break
        if got != last:
            last, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > 10:
            break  # nothing new for 10 s: what is missing is not coming
        time.sleep(0.1)
    return time.monotonic() - started


def collect(workers: Sequence[Worker],
            accepted: dict[int, list[int]]) -> tuple[list[dict[str, Any]], dict[int, list[float]]]:
    for w in workers:
        w.send(("results", accepted))
    per_viewer: list[dict[str, Any]] = []
    latencies: dict[int, list[float]] = {}
    for w in workers:
        body = w.recv(timeout=300)[1]
        per_viewer += body["viewers"]
        for phase, raw in body["latencies"].items():
            latencies.setdefault(phase, []).extend(floats(raw))
    return per_viewer, latencies


def loss_for(per_viewer: list[dict[str, Any]], phase: int) -> LossTotals:
    losses: list[Loss] = [v["loss"][phase] for v in per_viewer if phase in v["loss"]]
    return total_loss(losses)


def issue_tokens(secret: str, first: int, count: int) -> list[str]:
    return [tokens.issue(secret, f"bench-u{i}", f"Bench {i}", (), 7200) for i in range(first, first + count)]


def run_posters(fleet: Fleet, options: Options, target: Target, video_id: str,
                schedule: list[tuple[int, float]], rate: float, start_in: float = 2.0,
                http: str | None = None) -> tuple[list[Worker], int]:
    if target.secret is None:
        raise StartError("posting needs the target's token secret (--secret or LIVECOMMENTS_SECRET)")
    procs = options.poster_procs
    users = split(max(options.users, procs), procs)
    start_ns = time.monotonic_ns() + int(start_in * 1e9)
    workers = []
    first = 0
    for i in range(procs):
        config = PosterConfig(i, procs, http or target.http, video_id, issue_tokens(target.secret, first, users[i]),
                              [(phase, seconds, rate / procs) for phase, seconds in schedule], start_ns,
                              connections=max(4, HTTP_CONNECTIONS // procs))
        first += users[i]
        workers.append(fleet.add(Worker.spawn(f"posters-{i}", posters, config)))
    for w in workers:
        w.recv(timeout=60)
    return workers, start_ns


def gather_posts(workers: Sequence[Worker], timeout: float) -> dict[str, Any]:
    records: list[tuple[int, int, int, str, int, int]] = []
    errors: dict[str, int] = {}
    lag, late = 0.0, 0
    not_sent: dict[int, int] = {}
    for w in workers:
        body = w.recv(timeout=timeout)[1]
        for phase, n in body["not_sent"].items():
            not_sent[phase] = not_sent.get(phase, 0) + n
        records += body["records"]
        for k, n in body["errors"].items():
            errors[k] = errors.get(k, 0) + n
        lag = max(lag, body["max_lag_ms"])
        late += body["late_over_10ms"]
    return {"records": records, "errors": errors, "max_lag_ms": lag, "late_over_10ms": late, "not_sent": not_sent}


def check_database(database_url: str | None, ids: Sequence[str]) -> dict[str, Any] | None:
    """Every 202'd id in the database: once, and with which status."""
    if database_url is None:
        return None
    from sqlalchemy import select

    from infra.db import make_engine
    from livecomments.models import Comment

    engine = make_engine(database_url)
    found: dict[str, tuple[str, int | None]] = {}
    try:
        with engine.connect() as connection:
            for i in range(0, len(ids), 1000):
                chunk = list(ids[i:i + 1000])
                for cid, status, seq in connection.execute(
                        select(Comment.id, Comment.status, Comment.seq).where(Comment.id.in_(chunk))):
                    found[cid] = (status, seq)
    finally:
        engine.dispose()
    statuses: dict[str, int] = {}
    for status, _seq in found.values():
        statuses[status] = statuses.get(status, 0) + 1
    seqs = [seq for _s, seq in found.values() if seq is not None]
    return {
        "accepted_ids": len(ids), "found": len(found), "missing": len(set(ids) - found.keys()),
        "statuses": statuses, "distinct_seq": len(set(seqs)), "with_seq": len(seqs),
    }


def post_summary(posts: dict[str, Any], phase: int, seconds: float) -> dict[str, Any]:
    mine = [r for r in posts["records"] if r[0] == phase]
    ok = [r for r in mine if r[2] == 202]
    return {
        "not_sent": posts["not_sent"].get(phase, 0),
        "posted": len(mine), "accepted": len(ok), "seconds": seconds,
        "accepted_per_s": round(throughput(len(ok), seconds), 1),
        "http_ms": LatencySummary.of((r[5] - r[4]) / 1e6 for r in ok),
        "statuses": {str(s): sum(1 for r in mine if r[2] == s) for s in sorted({r[2] for r in mine})},
    }


def bare_endpoint_password(target: Target) -> str | None:
    return target.password("bridge")


# --- delivery: normal, hot, embedded -------------------------------------------------------------------


def delivery(options: Options, target: Target) -> dict[str, Any]:
    video_id = f"bench-{int(time.time())}"
    create_video(target, video_id)
    endpoint = target.ws if options.transport == "ws" else target.mqtt
    comments_topic = live_topic(video_id, "comments")
    bare_topic = f"live/bench/bare-{video_id}"
    topics = viewer_topics(options, video_id) + [bare_topic]
    origin = time.monotonic_ns()
    fleet = Fleet()
    monitor = roles_of(target, fleet)
    result: dict[str, Any] = {"video_id": video_id, "viewer_topics": topics[:-1], "notes": []}
    try:
        # `normal`'s viewers announce themselves as the page does; the counter's cost is measured (bench.presence)
        presence = f"presence/videos/{video_id}/" if options.scenario == "normal" else None
        presence_before = read_presence(target.bridge_metrics) if presence else None
        view, connect_info = start_viewers(fleet, options, endpoint, topics, [comments_topic, bare_topic], origin,
                                           options.viewers, options.viewer_procs, presence)
        result["viewers"] = connect_info
        n_viewers = connect_info["connected"]
        monitor.start()
        schedule: list[tuple[int, float]] = [(Phase.WARMUP, options.warmup), (Phase.MEASURE, options.duration)]
        post_workers, start_ns = run_posters(fleet, options, target, video_id, schedule, options.rate)
        t_measure = start_ns + int(options.warmup * 1e9)
        t_end = t_measure + int(options.duration * 1e9)
        scrape = Scrape(target.bridge_metrics, t_measure)
        posts = gather_posts(post_workers, options.warmup + options.duration + 120)
        accepted: dict[int, list[int]] = {p: [r[1] for r in posts["records"] if r[0] == p and r[2] == 202]
                    for p in (Phase.WARMUP, Phase.MEASURE)}
        ids = [r[3] for r in posts["records"] if r[2] == 202]
        waited = drain(view, n_viewers * len(ids))
        t_system_done = time.monotonic()
        histograms = scrape.delta()
        result["posting"] = {"measure": post_summary(posts, Phase.MEASURE, options.duration),
                             "warmup": post_summary(posts, Phase.WARMUP, options.warmup),
                             "errors": posts["errors"], "max_schedule_lag_ms": round(posts["max_lag_ms"], 1),
                             "late_over_10ms": posts["late_over_10ms"], "drain_seconds": round(waited, 2)}
        result["database"] = check_database(target.database_url, ids)
        if presence:
            result["presence"] = presence_summary(presence_before, read_presence(target.bridge_metrics), n_viewers)
        bare_keys: list[int] = []
        bare_window: tuple[int, int] | None = None
        password = bare_endpoint_password(target)
        if options.bare and password is not None:
            time.sleep(1.0)
            bare_keys, bare_window, bare_info = bare_phase(fleet, options, target.mqtt, password, bare_topic,
                                                           view, n_viewers)
            result["bare_publisher"] = bare_info
        elif options.bare:
            result["notes"].append("bare-broker phase skipped: no bridge account password (--data-dir)")
        monitor.stop()
        per_viewer, latencies = collect(view, {**accepted, Phase.BARE: bare_keys})
        result["measure"] = delivery_summary(per_viewer, latencies, Phase.MEASURE, accepted[Phase.MEASURE],
                                             origin, t_measure, t_end, options.duration, waited)
        result["measure"]["loss_warmup"] = loss_for(per_viewer, Phase.WARMUP).to_dict()
        n_accepted = len(accepted[Phase.MEASURE])
        # the web app works while posts come in; the bridge and the broker until the viewers have it all
        web_cpu = monitor.cpu_seconds(t_measure / 1e9, t_end / 1e9 + 0.5)
        system_cpu = monitor.cpu_seconds(t_measure / 1e9, t_system_done)
        result["cost"] = report.cost_of(web_cpu, [("web", "accepted post", n_accepted)]) + report.cost_of(
            system_cpu, [("bridge", "comment", n_accepted), ("broker", "delivery", result["measure"]["deliveries"]),
                         ("postgres", "comment", n_accepted), ("redis", "comment", n_accepted)])
        result["steps"] = report.comment_steps(result["posting"]["measure"]["http_ms"], histograms,
                                               result["measure"]["latency_ms"])
        result["latencies_ms"] = {"system": latencies.get(Phase.MEASURE, [])}
        result["processes"] = {"measure": monitor.window(t_measure / 1e9, t_system_done)}
        if bare_window is not None:
            b0, b1 = bare_window
            result["bare"] = delivery_summary(per_viewer, latencies, Phase.BARE, bare_keys, origin, b0, b1,
                                              (b1 - b0) / 1e9, result["bare_publisher"]["drain_seconds"])
            result["latencies_ms"]["bare"] = latencies.get(Phase.BARE, [])
            result["processes"]["bare"] = monitor.window(b0 / 1e9, b1 / 1e9 + 2)
            result["ratio"] = ratios(result["measure"], result["bare"])
        result["viewers"]["alive_at_end"] = sum(1 for v in per_viewer if v["alive"])
        result["viewer_bytes"] = {"scope": "every viewer's whole connection, all phases; MQTT PUBLISH bytes "
                                  "(WebSocket framing not counted); the bare-broker topic left out",
                                  **bytes_by_kind([v["bytes_by_topic"] for v in per_viewer])}
    finally:
        fleet.stop()
    return result


def bare_phase(fleet: Fleet, options: Options, endpoint: Endpoint, password: str, topic: str,
               view: Sequence[Worker], n_viewers: int) -> tuple[list[int], tuple[int, int], dict[str, Any]]:
    before = received(view)
    start_ns = time.monotonic_ns() + int(1.5e9)
    config = PublisherConfig(endpoint.url, "bridge", password, topic, options.rate, options.bare_duration, start_ns,
                             first_key=0)
    worker = fleet.add(Worker.spawn("bare_publisher", bare_publisher, config))
    worker.recv(timeout=30)
    body = worker.recv(timeout=options.bare_duration + 120)[1]
    keys: list[int] = body["keys"]
    end_ns = start_ns + int(options.bare_duration * 1e9)
    waited = drain(view, before + n_viewers * len(keys))
    return keys, (start_ns, end_ns), {"sent": len(keys), "max_schedule_lag_ms": round(body["max_lag_ms"], 1),
                                      "drain_seconds": round(waited, 2)}


def delivery_summary(per_viewer: list[dict[str, Any]], latencies: dict[int, list[float]], phase: int,
                     keys: list[int], origin: int, t0: int, t1: int, seconds: float,
                     drained: float = 0.0) -> dict[str, Any]:
    """`seconds` of posting or publishing, then `drained` seconds until the viewers had it all:
    deliveries per second are counted over both, so a backlog does not flatter the rate."""
    first, last = second_of(t0, origin), max(second_of(t0, origin), second_of(t1, origin) - 1)
    rates = rate_summary([v["per_second"] for v in per_viewer], first, last)
    values = latencies.get(phase, [])
    loss = loss_for(per_viewer, phase)
    delivered = loss.receivers * loss.expected_per_receiver - loss.missing_total
    return {
        "comments": len(keys),
        "comments_per_s": round(throughput(len(keys), seconds), 1),
        "viewers": len(per_viewer),
        "deliveries": delivered,
        "delivery_seconds": round(seconds + drained, 2),
        "deliveries_per_s": round(throughput(delivered, seconds + drained), 1),
        "latency_ms": LatencySummary.of(values),
        "loss": loss.to_dict(),
        "messages_per_viewer_per_s": rates.to_dict(),
        "bytes_per_viewer_per_s": rate_summary([v["bytes_per_second"] for v in per_viewer], first, last).to_dict(),
        "batch_bytes_per_viewer_per_s": rate_summary([v["batch_bytes_per_second"] for v in per_viewer], first,
                                                     last).to_dict(),
    }


def ratios(measure: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in ("p50", "p90", "p99", "max"):
        m, b = measure["latency_ms"], bare["latency_ms"]
        value = ratio(getattr(m, name) if m else None, getattr(b, name) if b else None)
        out[f"latency_{name}"] = round(value, 2) if value is not None else None
    value = ratio(measure["deliveries_per_s"], bare["deliveries_per_s"])
    out["deliveries_per_s"] = round(value, 2) if value is not None else None
    return out


# --- post: the web app's CPU per accepted post beside a bare endpoint ------------------------------------


def post_cost(options: Options, target: Target) -> dict[str, Any]:
    """The production stack loaded like `normal` (with few viewers), then the bare endpoint
    (bench/bare_app.py: parse JSON, answer 202) on the same server with the same workers and
    threads, posted to on the same schedule: server CPU per 202 of each, and their ratio."""
    result = delivery(replace(options, bare=False), target)
    web = next((c for c in result.get("cost", []) if c["part"] == "web"), None)
    result["web_cpu_ms_per_post"] = web["ms_per_unit"] if web else None
    if not options.bare:
        return result
    bare = bare_endpoint_phase(options, target)
    result["processes"]["bare endpoint"] = bare.pop("processes")
    result["bare_endpoint"] = bare
    result["cost"].append(report.cost_entry("bare endpoint", "202", bare["cpu_s"], bare["accepted"]))
    value = ratio(result["web_cpu_ms_per_post"], bare["cpu_ms_per_post"])
    result["ratio"] = {"cpu_per_post": round(value, 2) if value is not None else None}
    return result


def bare_endpoint_phase(options: Options, target: Target) -> dict[str, Any]:
    from infra.ports import free_port
    from livecomments.config import Settings

    workers = int(getattr(target, "web_workers", 0) or os.cpu_count() or 1)
    threads = Settings().web_threads
    host, port = "127.0.0.1", free_port()
    argv = [sys.executable, "-m", "bench.bare_app", "--host", host, "--port", str(port), "--workers", str(workers),
            "--threads", str(threads)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,  # noqa: S603 - our own interpreter
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    fleet = Fleet()
    try:
        wait_for_port(host, port, 30, proc)
        wait_ready(f"http://{host}:{port}")
        monitor = Monitor(lambda: {"bare endpoint": process_tree(proc.pid), **fleet.pids()}).start()
        schedule: list[tuple[int, float]] = [(Phase.WARMUP, options.warmup), (Phase.MEASURE, options.duration)]
        post_workers, start_ns = run_posters(fleet, options, target, "bench-bare", schedule, options.rate,
                                             http=f"http://{host}:{port}")
        t_measure = start_ns + int(options.warmup * 1e9)
        t_end = t_measure + int(options.duration * 1e9)
        posts = gather_posts(post_workers, options.warmup + options.duration + 120)
        monitor.stop()
        summary = post_summary(posts, Phase.MEASURE, options.duration)
        cpu = report.role_cpu(monitor.cpu_seconds(t_measure / 1e9, t_end / 1e9 + 0.5), "bare endpoint")
        summary.update(server=f"granian, {workers} workers x {threads} threads (wiring.web.granian_server)",
                       cpu_s=cpu, cpu_ms_per_post=_round(cpu_ms_per(cpu, summary["accepted"]), 4),
                       errors=posts["errors"],
                       processes=monitor.window(t_measure / 1e9, t_end / 1e9 + 0.5))
        return summary
    finally:
        fleet.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- the bridge alone ------------------------------------------------------------------------------------


def bridge_alone(options: Options, target: Target) -> dict[str, Any]:
    video_id = f"bench-{int(time.time())}"
    create_video(target, video_id)
    service_pw, bridge_pw = target.password("webapp"), target.password("bridge")
    if service_pw is None or bridge_pw is None:
        raise StartError("the bridge scenario needs the service passwords (--data-dir of the target)")
    fleet = Fleet()
    monitor = roles_of(target, fleet)
    result: dict[str, Any] = {"video_id": video_id, "notes": []}
    try:
        schedule: list[tuple[int, float]] = [(Phase.WARMUP, options.warmup), (Phase.MEASURE, options.duration)]
        config = IngestConfig(target.mqtt.url, "webapp", service_pw, f"ingest/videos/{video_id}/comments", video_id,
                              live_topic(video_id, "comments"), schedule)
        monitor.start()
        worker = fleet.add(Worker.spawn("ingest", ingest, config, new_counter()))
        worker.recv(timeout=30)
        t0 = time.monotonic()
        scrape = Scrape(target.bridge_metrics, int((t0 + options.warmup) * 1e9))
        worker.send(("go",))
        body = worker.recv(timeout=options.warmup + options.duration + 120)[1]
        t1 = time.monotonic()
        histograms = scrape.delta()
        measure = next(p for p in body["phases"] if p["phase"] == Phase.MEASURE)
        result["measure"] = {
            "sent": body["sent"], "acked_by_broker": body["acked"], "published_on_live": body["done"],
            "comments_per_s": round(throughput(measure["done"], measure["seconds"]), 1),
            "latency_ms": LatencySummary.of(floats(body["latencies"].get(Phase.MEASURE, b""))),
            "lost": body["acked"] - body["done"],
        }
        result["latencies_ms"] = {"system": list(floats(body["latencies"].get(Phase.MEASURE, b"")))}
        result["database"] = count_video_rows(target.database_url, video_id)
        result["processes"] = {"measure": monitor.window(t0 + options.warmup, t1)}
        if options.bare:
            result["bare"], window = bare_consumer_phase(fleet, options, target, service_pw, bridge_pw)
            result["processes"]["bare"] = monitor.window(*window)
            value = ratio(result["measure"]["comments_per_s"], result["bare"]["messages_per_s"])
            result["ratio"] = {"throughput": round(value, 2) if value is not None else None}
        monitor.stop()
        cpu = monitor.cpu_seconds(t0 + options.warmup, t1)
        done = int(measure["done"])
        result["cost"] = report.cost_of(cpu, [("bridge", "comment", done), ("broker", "comment (in and out)", done),
                                              ("postgres", "comment", done)])
        result["steps"] = report.comment_steps(None, histograms, result["measure"]["latency_ms"],
                                               "ingest publish → on live/ (the ingest worker reads it)",
                                               viewer_how="load generator: one monotonic clock")
    finally:
        fleet.stop()
    return result


def bare_consumer_phase(fleet: Fleet, options: Options, target: Target, service_pw: str,
                        bridge_pw: str) -> tuple[dict[str, Any], tuple[float, float]]:
    consumed = new_counter()
    topic = "ingest/bench/bare"
    consumer = fleet.add(Worker.spawn("bare_consumer", bare_consumer, ConsumerConfig(
        target.mqtt.host, target.mqtt.port, "bridge", bridge_pw, topic), consumed))
    consumer.recv(timeout=30)
    seconds = options.bare_duration
    config = IngestConfig(target.mqtt.url, "webapp", service_pw, topic, "bench-bare", None,
                          [(Phase.WARMUP, min(options.warmup, 2.0)), (Phase.BARE, seconds)])
    worker = fleet.add(Worker.spawn("ingest_bare", ingest, config, consumed))
    worker.recv(timeout=30)
    t0 = time.monotonic()
    worker.send(("go",))
    body = worker.recv(timeout=seconds + 120)[1]
    phase = next(p for p in body["phases"] if p["phase"] == Phase.BARE)
    return {"sent": body["sent"], "consumed": body["done"],
            "messages_per_s": round(throughput(phase["done"], phase["seconds"]), 1)}, (t0 + 2.0, time.monotonic())


def count_video_rows(database_url: str | None, video_id: str) -> dict[str, Any] | None:
    if database_url is None:
        return None
    from sqlalchemy import func, select

    from infra.db import make_engine
    from livecomments.models import Comment

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Comment.status, func.count(), func.count(func.distinct(Comment.seq)))
                                      .where(Comment.video_id == video_id).group_by(Comment.status)).all()
    finally:
        engine.dispose()
    return {"statuses": {status: n for status, n, _d in rows}, "distinct_seq": sum(d for _s, _n, d in rows)}


# --- edge: idle WebSocket viewers on one broker ------------------------------------------------------------


def edge(options: Options, target: Target) -> dict[str, Any]:
    fleet = Fleet()
    monitor = roles_of(target, fleet)
    topic = "live/bench/edge"
    result: dict[str, Any] = {"notes": []}
    broker_pids = [pid for role, pids in target.processes().items() if role.startswith("broker") for pid in pids]
    try:
        monitor.start()
        before = monitor.sample()
        origin = time.monotonic_ns()
        t0 = time.monotonic()
        view, info = start_viewers(fleet, options, target.ws, [topic], [topic], origin, options.viewers,
                                   options.viewer_procs)
        t_connected = time.monotonic()
        time.sleep(options.duration)  # hold them idle
        after = monitor.sample()
        for w in view:
            w.send(("alive",))
        alive = sum(w.recv(timeout=60)[1] for w in view)
        keys: list[int] = []
        password = target.password("bridge")
        if password is not None:
            fanout = replace(options, rate=1.0, bare_duration=3.0)
            keys, fanout_window, pub = bare_phase(fleet, fanout, target.mqtt, password, topic, view, alive)
            result["fanout_publisher"] = pub
        monitor.stop()
        per_viewer, latencies = collect(view, {Phase.BARE: keys})
        if keys:
            f0, f1 = fanout_window
            fanout_loss = loss_for(per_viewer, Phase.BARE)
            deliveries = fanout_loss.receivers * fanout_loss.expected_per_receiver - fanout_loss.missing_total
            result["cost"] = report.cost_of(monitor.cpu_seconds(f0 / 1e9, f1 / 1e9 + pub["drain_seconds"]),
                                            [("broker", "delivery", deliveries)])
            result["steps"] = report.comment_steps(None, None, LatencySummary.of(latencies.get(Phase.BARE, [])),
                                                   "publish → at the viewer (bare fan-out)", bridge=False)
        broker_before = sum(before.rss.get(p, 0) for p in broker_pids)
        broker_after = sum(after.rss.get(p, 0) for p in broker_pids)
        viewer_rss = sum(after.rss.get(w.pid, 0) for w in view if w.pid is not None)
        connected = info["connected"]
        result["measure"] = {
            "asked": options.viewers, "connected": connected, "failed": info["failed"], "errors": info["errors"],
            "alive_after_hold": alive, "hold_seconds": options.duration,
            "connect_seconds": round(t_connected - t0, 2), "connect_ms": info["connect_ms"],
            "broker_rss_mb_before": round(broker_before / 2**20, 1),
            "broker_rss_mb_after": round(broker_after / 2**20, 1),
            "broker_kib_per_connection": round((broker_after - broker_before) / 1024 / connected, 2)
            if connected and broker_pids else None,
            "viewer_process_kib_per_connection": round(viewer_rss / 1024 / connected, 2) if connected else None,
            "fanout": {"messages": len(keys), "latency_ms": LatencySummary.of(latencies.get(Phase.BARE, [])),
                       "loss": loss_for(per_viewer, Phase.BARE).to_dict()} if keys else None,
        }
        result["latencies_ms"] = {"bare": latencies.get(Phase.BARE, [])}
        result["processes"] = {"connect": monitor.window(t0, t_connected), "hold": monitor.window(t_connected,
                                                                                                  time.monotonic())}
    finally:
        fleet.stop()
    return result


# --- join: subscribing to the retained recent comments --------------------------------------------------


def join(options: Options, target: Target) -> dict[str, Any]:
    video_id = f"bench-{int(time.time())}"
    create_video(target, video_id)
    fleet = Fleet()
    monitor = roles_of(target, fleet)
    result: dict[str, Any] = {"video_id": video_id, "notes": []}
    try:
        prefill = 60
        post_workers, _start = run_posters(fleet, replace(options, poster_procs=1), target, video_id,
                                           [(Phase.PREFILL, 2.0)], prefill / 2.0, start_in=0.5)
        gather_posts(post_workers, 60)
        wait_published(target, video_id, prefill)
        monitor.start()
        background: list[Worker] = []
        if options.rate > 0:
            background, _start = run_posters(fleet, options, target, video_id,
                                             [(Phase.MEASURE, options.duration + 5)], options.rate, start_in=0.5)
        topics = [live_topic(video_id, leaf) for leaf in ("comments", "recent", "state")]
        t0 = time.monotonic()
        scrape = Scrape(target.bridge_metrics)
        endpoint = target.ws if options.transport == "ws" else target.mqtt
        result["measure"] = run_joins(fleet, options, endpoint, topics, topics[1])
        t1 = time.monotonic()
        histograms = scrape.delta()
        monitor.sample()
        result["processes"] = {"measure": monitor.window(t0, t1)}
        cpu = monitor.cpu_seconds(t0, t1)
        background_http = None
        if background:
            posts = gather_posts(background, options.duration + 120)
            result["background_posting"] = post_summary(posts, Phase.MEASURE, options.duration + 5)
            background_http = result["background_posting"]["http_ms"]
        accepted_s = throughput(result.get("background_posting", {}).get("accepted", 0), options.duration + 5)
        in_window = round(accepted_s * (t1 - t0))  # background posts made while the joins ran
        result["cost"] = report.cost_of(cpu, [("web", "accepted post", in_window), ("bridge", "comment", in_window),
                                              ("broker", "join", result["measure"]["ok"])])
        result["steps"] = report.comment_steps(background_http, histograms, result["measure"]["recent_ms"],
                                               "subscribe → recent on screen (joins)",
                                               viewer_how="joining viewer: SUBSCRIBE sent to the retained recent")
        password = target.password("bridge")
        if options.bare and password is not None:
            bare_topic = f"live/bench/bare-recent-{video_id}"
            snapshot = recent_snapshot(target, video_id)
            publish_retained(target.mqtt, password, bare_topic, snapshot)
            b0 = time.monotonic()
            result["bare"] = run_joins(fleet, replace(options, duration=options.bare_duration), endpoint,
                                       [bare_topic], bare_topic)
            result["bare"]["recent_bytes"] = len(snapshot)
            result["processes"]["bare"] = monitor.window(b0, time.monotonic())
            m, b = result["measure"]["recent_ms"], result["bare"]["recent_ms"]
            result["ratio"] = {f"recent_{q}": round(ratio(getattr(m, q), getattr(b, q)) or 0, 2)
                               for q in ("p50", "p99")} if m and b else {}
        result["latencies_ms"] = {"system": result["measure"].pop("values"),
                                  **({"bare": result["bare"].pop("values")} if "bare" in result else {})}
        monitor.stop()
    finally:
        fleet.stop()
    return result


def run_joins(fleet: Fleet, options: Options, endpoint: Endpoint, topics: list[str], recent: str) -> dict[str, Any]:
    procs = options.viewer_procs
    workers = []
    counts = split(options.viewers, procs)
    for i, n in enumerate(counts):
        every = options.duration / n if n else 1.0
        workers.append(fleet.add(Worker.spawn(f"joiners-{i}", joiners, JoinConfig(
            i, endpoint.url, topics, recent, n, 50, every))))
    for w in workers:
        w.recv(timeout=60)
    for w in workers:
        w.send(("go",))
    rows: list[dict[str, Any]] = []
    for w in workers:
        rows += w.recv(timeout=options.duration + 120)[1]
    ok = [r for r in rows if "error" not in r]
    errors = sorted({r["error"] for r in rows if "error" in r})
    return {
        "joins": len(rows), "ok": len(ok), "failed": len(rows) - len(ok), "errors": errors[:5],
        "recent_ms": LatencySummary.of(r["recent_ms"] for r in ok),
        "suback_ms": LatencySummary.of(r["suback_ms"] for r in ok),
        "connect_ms": LatencySummary.of(r["connect_ms"] for r in ok),
        "comments_in_recent": LatencySummary.of(r["comments"] for r in ok),
        "values": [r["recent_ms"] for r in ok],
    }


def wait_published(target: Target, video_id: str, count: int, timeout: float = 60) -> None:
    from bench.system import http_json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(http_json("GET", f"{target.http}/api/videos/{video_id}").get("last_seq", 0)) >= count:
            return
        time.sleep(0.2)
    raise StartError(f"the {count} comments posted to fill `recent` were not all published within {timeout:g} s")


def recent_snapshot(target: Target, video_id: str) -> bytes:
    """The retained `recent` as the bridge published it, to have the bare broker serve the same bytes."""
    import asyncio

    from bench.conn import MqttConnection, open_mqtt
    from bench.mqtt import Packet, parse_publish

    async def fetch() -> bytes:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def on_publish(_c: MqttConnection, packet: Packet, _now: int) -> None:
            if not got.done():
                got.set_result(parse_publish(packet).payload)

        conn = await open_mqtt(target.mqtt, f"bench-snapshot-{os.getpid()}", on_publish)
        try:
            await conn.subscribe([(live_topic(video_id, "recent"), 0)])
            return await asyncio.wait_for(got, 10)
        finally:
            conn.close()

    return asyncio.run(fetch())


def publish_retained(endpoint: Endpoint, password: str, topic: str, payload: bytes) -> None:
    import asyncio

    from bench import mqtt
    from bench.conn import open_mqtt

    async def send() -> None:
        conn = await open_mqtt(endpoint, f"bench-retain-{os.getpid()}", None, username="bridge", password=password)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_puback(_packet_id: int) -> None:
            if not acked.done():
                acked.set_result(None)

        conn.on_puback = on_puback
        conn.send(mqtt.publish(topic, payload, 1, retain=True, packet_id=conn.packet_id()))
        await asyncio.wait_for(acked, 10)
        conn.close()

    asyncio.run(send())


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
