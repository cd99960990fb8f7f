"""`livecomments bench soak`: memory over a long run with many videos.

The system (the embedded default unless --stack says otherwise) takes comments over `--videos`
videos for `--warmup` + `--duration` seconds (bench.soak_load); every process of it is sampled
every SAMPLE_EVERY_S, and each one's RSS over the measured window is judged by bench.memory
(start, end, slope over the second half, flat or not). Correctness is checked too: every 202'd
id stored, and a subscriber of every video saw each one's `seq` run from 1 to the database's
last_seq without a gap."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from bench.memory import FLAT_MB_PER_MIN, MB, Point, trends, verdict
from bench.monitor import Monitor, postgres_pids
from bench.soak_load import SoakConfig, soak, video_ids
from bench.system import StartError, Target
from bench.workers import Worker
from livecomments import tokens
from livecomments.config import BRIDGE_WINDOW_COMMENTS_HELD

SAMPLE_EVERY_S = 5.0
WINDOW_COMMENT_BYTES = 1024  # a comment in the bridge's recent window (a ~50-character text; measured with tracemalloc)
WINDOW_COMMENTS_HELD = BRIDGE_WINDOW_COMMENTS_HELD
USERS = 64  # posting users, in turn: the hottest video gets ~7 % of the comments, well under 20 per user per 30 s


def process_names(roles: dict[str, list[int]]) -> dict[str, list[int]]:
    """One name per process: a role with several (the web app's server and its workers) is split."""
    out: dict[str, list[int]] = {}
    for role, pids in roles.items():
        if len(pids) == 1:
            out[role] = pids
            continue
        for i, pid in enumerate(pids):
            out[f"{role} (main)" if i == 0 else f"{role} worker {i}"] = [pid]
    return out


def rss_series(monitor: Monitor) -> dict[str, list[Point]]:
    series: dict[str, list[Point]] = {}
    for sample in monitor.samples:
        for pid, rss in sample.rss.items():
            series.setdefault(sample.role_of[pid], []).append((sample.t, rss))
    return series


def last_seqs(database_url: str | None, videos: Collection[str]) -> dict[str, int] | None:
    if database_url is None:
        return None
    from sqlalchemy import select

    from infra.db import make_engine
    from livecomments.models import Video

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {v: int(s) for v, s in connection.execute(select(Video.id, Video.last_seq)) if s and v in videos}
    finally:
        engine.dispose()


def settled_last_seqs(database_url: str | None, videos: Collection[str], timeout: float = 120.0) -> dict[str, int]:
    """Each video's last seq once nothing is pending or unpublished any more (or `timeout` passed):
    what the subscriber must have seen. Empty without a database."""
    if database_url is None:
        return {}
    from sqlalchemy import func, select

    from infra.db import make_engine
    from livecomments.models import Comment, CommentStatus, LiveEvent

    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                pending = connection.scalar(select(func.count()).select_from(Comment).where(
                    Comment.status == CommentStatus.PENDING.value))
                unpublished = connection.scalar(select(func.count()).select_from(LiveEvent).where(
                    LiveEvent.published.is_(False)))
            if not pending and not unpublished:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return last_seqs(database_url, videos) or {}


def delivery_check(seen: dict[str, int], stored: dict[str, int] | None) -> dict[str, Any] | None:
    """Each video's last seq as the subscriber saw it against the database's."""
    if stored is None:
        return None
    behind = {v: (seen.get(v, 0), s) for v, s in stored.items() if seen.get(v, 0) != s}
    return {"videos_with_events": len(stored), "events_in_database": sum(stored.values()),
            "videos_not_current": len(behind),
            "examples": [f"{v}: saw {a}, stored {b}" for v, (a, b) in sorted(behind.items())[:5]]}


def by_design(views: dict[str, dict[str, int]], seconds: float) -> dict[str, dict[str, float]]:
    """What grows by design over the window, from the retained `recent` views a subscriber got: the
    broker keeps every video's (its payloads), the bridge a window of the videos it published in the
    last minute (WINDOW_COMMENT_BYTES a comment). Both grow with the comments until each video has
    recent_size of them, and are bounded there (the bridge's by bridge_window_comments_held)."""
    start, end = views.get("measure_start") or {}, views.get("end") or {}
    minutes = seconds / 60 if seconds else 0.0

    def entry(mb_start: float, mb_end: float, **more: float) -> dict[str, float]:
        return {"start_mb": round(mb_start, 1), "end_mb": round(mb_end, 1),
                "mb_per_min": round((mb_end - mb_start) / minutes, 3) if minutes else 0.0, **more}

    window_mb = [min(v.get("window_comments", 0), WINDOW_COMMENTS_HELD) * WINDOW_COMMENT_BYTES / MB
                 for v in (start, end)]
    return {
        "broker": entry(start.get("payload_bytes", 0) / MB, end.get("payload_bytes", 0) / MB,
                        videos=end.get("videos", 0)),
        "bridge": entry(window_mb[0], window_mb[1], window_comments_start=start.get("window_comments", 0),
                        window_comments_end=end.get("window_comments", 0)),
    }


def judge(entry: dict[str, Any], expected: dict[str, dict[str, float]]) -> None:
    """Flat: the slope less what grows by design for that process is under FLAT_MB_PER_MIN."""
    part = "broker" if entry["process"].startswith("broker") else entry["process"] if entry["process"] in expected \
        else None
    design = expected[part]["mb_per_min"] if part is not None else 0.0
    slope = entry["slope_mb_per_min"]
    entry["by_design_mb_per_min"] = design
    entry["unexplained_mb_per_min"] = None if slope is None else round(slope - design, 3)
    entry["flat"] = None if slope is None else slope - design < FLAT_MB_PER_MIN
    entry["verdict"] = verdict(entry["flat"])


def run_soak(options: Any, target: Target) -> dict[str, Any]:
    from bench.run import Fleet, check_database

    if target.secret is None:
        raise StartError("the soak needs the target's token secret (--secret or LIVECOMMENTS_SECRET)")
    videos = video_ids(options.videos)
    admin = tokens.issue(target.secret, "bench-admin", "Bench admin", ["admin"], 7200)
    users = [tokens.issue(target.secret, f"soak-u{i}", f"Soak {i}", (), 7200) for i in range(USERS)]
    fleet = Fleet()

    def roles() -> dict[str, list[int]]:
        out = process_names(target.processes())
        pg = postgres_pids(target.postgres_database())
        if pg:
            out["postgres"] = pg
        out.update(fleet.pids())
        return out

    monitor = Monitor(roles, interval=SAMPLE_EVERY_S)
    result: dict[str, Any] = {"notes": [], "videos": options.videos}
    try:
        config = SoakConfig(target.http, target.mqtt.url, videos, users, admin, options.rate,
                            options.warmup + options.duration, warmup_s=options.warmup)
        worker = fleet.add(Worker.spawn("soak", soak, config))
        ready = worker.recv(timeout=max(120.0, options.videos / 20))[1]
        result["setup"] = ready
        if ready["created"] != options.videos:
            result["notes"].append(f"only {ready['created']} of {options.videos} videos were created")
        monitor.start()
        start_ns = time.monotonic_ns() + int(1e9)
        worker.send(("go", start_ns))
        t_measure = start_ns / 1e9 + options.warmup
        t_end = t_measure + options.duration
        worker.recv(timeout=options.warmup + options.duration + 300)  # "posted"
        worker.send(("expect", settled_last_seqs(target.database_url, set(videos))))
        body = worker.recv(timeout=300)[1]
        monitor.stop()
        memory = trends(rss_series(monitor), t_measure, t_end, FLAT_MB_PER_MIN)
        system = [m for m in memory if not m.process.startswith("load")]
        result["memory"] = {
            "sample_every_s": SAMPLE_EVERY_S, "flat_under_mb_per_min": FLAT_MB_PER_MIN,
            "window_s": options.duration, "slope_over": "the second half of the measured window",
            "processes": [m.to_dict() for m in memory],
            "all_flat": all(m.flat for m in system) if system and all(m.flat is not None for m in system) else None,
        }
        result["rss_mb"] = {name: [(round(t - t_measure, 1), round(r / MB, 1)) for t, r in points]
                            for name, points in rss_series(monitor).items()}
        result["load"] = {k: body[k] for k in ("statuses", "not_sent", "drain_seconds")} | {
            "videos_closed": len(body["closed"]), "videos_retermed": len(body["retermed"]),
            "comments_pinned": len(body["pinned"]), "rate": options.rate}
        result["checker"] = body["checker"]
        result["memory"]["by_design"] = by_design(body["recent_views"], options.duration)
        for entry in result["memory"]["processes"]:
            judge(entry, result["memory"]["by_design"])
        system_entries = [e for e in result["memory"]["processes"] if not e["process"].startswith("load")]
        result["memory"]["all_flat"] = all(e["flat"] for e in system_entries) if system_entries and all(
            e["flat"] is not None for e in system_entries) else None
        result["database"] = check_database(target.database_url, body["accepted_ids"])
        result["delivery"] = delivery_check(body["last_seq_seen"], last_seqs(target.database_url, set(videos)))
        result["processes"] = {"measure": monitor.window(t_measure, t_end)}
    finally:
        fleet.stop()
    return result
