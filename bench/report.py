"""A run's result as a terminal table, JSON and a PNG of the latency distribution; and the
design's targets checked against it."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.presence import presence_line
from bench.stats import LatencySummary

LOAD_SATURATED_PERCENT = 90.0  # a load generator this busy may be what limits the run


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if doc is None:
            return None
        doc = getattr(doc, key, None) if dataclasses.is_dataclass(doc) else doc.get(key)
    return doc


def _target(name: str, target: str, measured: Any, met: bool | None) -> dict[str, Any]:
    return {"target": name, "wanted": target, "measured": measured, "met": met}


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _zero_loss(result: dict[str, Any]) -> tuple[str, bool | None]:
    db = result.get("database")
    missing_viewers = sum(int(_get(result, "measure", key, "missing_total") or 0) for key in ("loss", "loss_warmup"))
    db_missing = db["missing"] if db else None
    not_approved = (db["accepted_ids"] - db["statuses"].get("approved", 0)) if db else None
    text = f"viewers missed {missing_viewers} copies; database: {db_missing} ids missing, {not_approved} not approved"
    if db is None:
        return text + " (no database check)", missing_viewers == 0 and None
    return text, missing_viewers == 0 and db_missing == 0 and not_approved == 0


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    scenario = result.get("scenario")
    out: list[dict[str, Any]] = []
    lat = _get(result, "measure", "latency_ms")
    p50, p99 = _get(lat, "p50"), _get(lat, "p99")
    if scenario in ("normal", "hot", "embedded"):
        text, ok = _zero_loss(result)
        out.append(_target("zero loss", "every 202'd id stored once and received by every viewer", text, ok))
    if scenario == "normal":
        out.append(_target("post → screen p50", "≤ 25 ms", p50, _le(p50, 25)))
        out.append(_target("post → screen p99", "≤ 100 ms", p99, _le(p99, 100)))
    if scenario == "hot":
        out.append(_target("post → screen p99", "≤ 150 ms", p99, _le(p99, 150)))
        rate = _get(result, "measure", "messages_per_viewer_per_s", "max_mean")
        out.append(_target("messages per viewer", "≤ 20 /s (busiest viewer's average)", rate, _le(rate, 20)))
        system = _get(result, "measure", "deliveries_per_s")
        bare = _get(result, "bare", "deliveries_per_s")
        gain = system / bare if system is not None and bare else None
        out.append(_target("batching gain", "deliveries/s ≥ 3 × the bare broker's one-message-per-comment",
                           None if gain is None else round(gain, 2), None if gain is None else gain >= 3))
    if scenario == "embedded":
        out.append(_target("post → screen p99 (amqtt)", "≤ 100 ms", p99, _le(p99, 100)))
    if scenario == "bridge":
        rate = _get(result, "measure", "comments_per_s")
        out.append(_target("bridge throughput", "≥ 10,000 comments/s", rate, None if rate is None else rate >= 10_000))
        r = _get(result, "ratio", "throughput")
        out.append(_target("vs bare QoS 1 consumer", "≥ 0.6 ×", r, None if r is None else r >= 0.6))
    if scenario == "edge":
        alive = _get(result, "measure", "alive_after_hold")
        out.append(_target("WebSocket viewers on one broker", "≥ 10,000", alive,
                           None if alive is None else alive >= 10_000))
        per = _get(result, "measure", "broker_kib_per_connection")
        out.append(_target("memory per connection", "reported", f"{per} KiB (broker RSS)", per is not None))
    if scenario == "post":
        text, ok = _zero_loss(result)
        out.append(_target("zero loss", "every 202'd id stored once and received by every viewer", text, ok))
        web = _get(result, "web_cpu_ms_per_post")
        out.append(_target("web CPU per accepted post", f"≤ {BUDGET_MS['web']} ms", web,
                           _le(web, BUDGET_MS["web"])))
        r = _get(result, "ratio", "cpu_per_post")
        out.append(_target("vs the bare endpoint, same server and workers", f"≤ {BARE_ENDPOINT_RATIO_TARGET} ×", r,
                           _le(r, BARE_ENDPOINT_RATIO_TARGET)))
    if scenario == "join":
        p99j = _get(result, "measure", "recent_ms", "p99")
        out.append(_target("recent on screen after subscribing, p99", "≤ 50 ms", p99j, _le(p99j, 50)))
    if scenario == "soak":
        out += soak_targets(result)
    if scenario in ("flood", "overload"):
        from bench import abuse_report

        if scenario == "flood":
            out += [_target("zero loss", "every 202'd id stored once and received by every viewer",
                            *_zero_loss(result))] + abuse_report.flood_targets(result)
        else:
            out += abuse_report.overload_targets(result)
    return out


def soak_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    memory = result.get("memory") or {}
    system = [m for m in memory.get("processes", []) if not m["process"].startswith("load")]
    slopes = ", ".join(f"{m['process']} {_fmt(m.get('unexplained_mb_per_min', m['slope_mb_per_min']))}"
                       for m in system)
    out = [_target("memory flat", f"RSS slope over the second half, less what grows by design, < "
                   f"{memory.get('flat_under_mb_per_min')} MB/min, every process", slopes or None,
                   memory.get("all_flat"))]
    db, delivery, checker = result.get("database"), result.get("delivery"), result.get("checker") or {}
    if db is not None and delivery is not None:
        text = (f"database: {db['missing']} of {db['accepted_ids']} ids missing; subscriber: {checker.get('gaps')} "
                f"gaps, {checker.get('duplicates')} duplicates, {delivery['videos_not_current']} of "
                f"{delivery['videos_with_events']} videos behind the database")
        ok = db["missing"] == 0 and checker.get("gaps") == 0 and delivery["videos_not_current"] == 0
        out.append(_target("every comment stored and delivered", "no id missing, seq gapless, every video current",
                           text, ok))
    return out


def saturated_load(result: dict[str, Any]) -> list[str]:
    out = []
    for window, doc in (result.get("processes") or {}).items():
        for role, entry in (doc.get("roles") or {}).items():
            per_process = entry["cpu_percent"] / max(1, entry["processes"])
            if role.startswith("load") and per_process >= LOAD_SATURATED_PERCENT:
                out.append(f"{role} used {per_process:.0f}% of a core per process in '{window}': "
                           "the load generator may be what limits this figure")
    return out


# --- JSON ----------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    if isinstance(value, LatencySummary):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    ignore = out_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# results of `livecomments bench`: machine-specific, never committed\n*\n")
    stamp = result["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    base = out_dir / f"{result['scenario']}-{stamp}"
    doc = {k: v for k, v in result.items() if k != "latencies_ms"}
    doc["warnings"] = saturated_load(result)
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(jsonable(doc), indent=2, ensure_ascii=False) + "\n")
    paths = [json_path]
    png = draw(result, base.with_suffix(".png"))
    if png is not None:
        paths.append(png)
    return paths


def _pyplot() -> Any:
    """matplotlib's pyplot drawing to files, or None where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _saved(plt: Any, fig: Any, result: dict[str, Any], path: Path) -> Path:
    fig.suptitle(f"livecomments bench {result['scenario']} — {result.get('started_at', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_memory(result: dict[str, Any], path: Path) -> Path | None:
    """Each process's RSS over the run (a soak); None without matplotlib or samples."""
    series = {name: points for name, points in (result.get("rss_mb") or {}).items()
              if points and not name.startswith("load")}
    if not series:
        return None
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(12, 5))
    for name, points in sorted(series.items()):
        ax.plot([t / 60 for t, _ in points], [mb for _, mb in points], label=name)
    ax.axvline(0, color="grey", linewidth=0.5)  # the end of the warm-up
    ax.set_xlabel("minutes since the measured window began (negative: warm-up)")
    ax.set_ylabel("RSS (MB)")
    ax.legend()
    return _saved(plt, fig, result, path)


def draw(result: dict[str, Any], path: Path) -> Path | None:
    """Histogram (log scale) and percentile curve of the latencies (a soak: RSS over time); None
    without matplotlib or data."""
    if result.get("scenario") == "soak":
        return draw_memory(result, path)
    series = {name: values for name, values in (result.get("latencies_ms") or {}).items() if values}
    if not series:
        return None
    plt = _pyplot()
    if plt is None:
        return None
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    low = max(0.01, min(min(v) for v in series.values()))
    high = max(max(v) for v in series.values())
    bins = [low * (high / low) ** (i / 60) for i in range(61)] if high > low else 10
    for name, values in series.items():
        label = f"{name} (n={len(values):,})"
        hist.hist([max(v, low) for v in values], bins=bins, histtype="step", label=label)
        ordered = sorted(values)
        step = max(1, len(ordered) // 2000)
        xs = ordered[::step] + [ordered[-1]]
        ys = [min(100.0, 100 * (i * step + 1) / len(ordered)) for i in range(len(xs) - 1)] + [100.0]
        cdf.plot(xs, ys, label=label)
    hist.set_xscale("log")
    hist.set_xlabel("latency (ms)")
    hist.set_ylabel("count")
    hist.legend()
    cdf.set_xscale("log")
    cdf.set_xlabel("latency (ms)")
    cdf.set_ylabel("percentile")
    cdf.axhline(99, color="grey", linewidth=0.5)
    cdf.axhline(50, color="grey", linewidth=0.5)
    cdf.legend()
    return _saved(plt, fig, result, path)


# --- the terminal table ------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def grid(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _latency_rows(label: str, system: Any, bare: Any) -> list[list[Any]]:
    rows = []
    for q in ("p50", "p90", "p99", "max"):
        s, b = _get(system, q), _get(bare, q)
        rows.append([f"{label} {q} (ms)", s, b, round(s / b, 2) if s is not None and b else None])
    return rows


def comparison_rows(result: dict[str, Any]) -> list[list[Any]]:
    m, b = result.get("measure") or {}, result.get("bare") or {}
    scenario = result.get("scenario")
    if scenario == "bridge":
        rows: list[list[Any]] = [
            ["comments/s (ingest → stored → on live/)", m.get("comments_per_s"), b.get("messages_per_s"),
             _get(result, "ratio", "throughput")],
            ["sent / acked by broker / seen on live", f"{m.get('sent')} / {m.get('acked_by_broker')} / "
             f"{m.get('published_on_live')}", f"{b.get('sent')} / — / {b.get('consumed')}", None],
        ]
        return rows + _latency_rows("ingest → live", m.get("latency_ms"), None)
    if scenario == "edge":
        return [[k.replace("_", " "), v, None, None] for k, v in m.items() if not isinstance(v, dict | list)
                and not isinstance(v, LatencySummary)] + _latency_rows("fan-out", _get(m, "fanout", "latency_ms"),
                                                                       None)
    if scenario == "join":
        rows = _latency_rows("subscribe → recent", m.get("recent_ms"), b.get("recent_ms"))
        rows += _latency_rows("SUBSCRIBE → SUBACK", m.get("suback_ms"), b.get("suback_ms"))
        rows += [["joins ok / failed", f"{m.get('ok')} / {m.get('failed')}", f"{b.get('ok')} / {b.get('failed')}",
                  None]]
        return rows
    if scenario == "soak":
        return soak_rows(result)
    if scenario == "overload":
        from bench.abuse_report import overload_rows

        return overload_rows(result)
    posting = _get(result, "posting", "measure") or {}
    if scenario == "post":
        bare = result.get("bare_endpoint") or {}
        return [
            ["posts posted / 202'd", f"{posting.get('posted')} / {posting.get('accepted')}",
             f"{bare.get('posted')} / {bare.get('accepted')}", None],
            ["202s per second (measured window)", posting.get("accepted_per_s"), bare.get("accepted_per_s"), None],
            ["server CPU per 202 (ms, every worker)", _get(result, "web_cpu_ms_per_post"), bare.get("cpu_ms_per_post"),
             _get(result, "ratio", "cpu_per_post")],
            *_latency_rows("post → HTTP 202", posting.get("http_ms"), bare.get("http_ms")),
        ]
    rows = [
        ["comments posted / 202'd / not sent in time", f"{posting.get('posted')} / {posting.get('accepted')} / "
         f"{posting.get('not_sent')}", None, None],
        ["comments/s (202'd, measured window)", _get(result, "posting", "measure", "accepted_per_s"),
         b.get("comments_per_s"), None],
        ["viewers", m.get("viewers"), b.get("viewers"), None],
        ["deliveries/s (comments × viewers)", m.get("deliveries_per_s"), b.get("deliveries_per_s"),
         _get(result, "ratio", "deliveries_per_s")],
        ["lost copies at viewers", _get(m, "loss", "missing_total"), _get(b, "loss", "missing_total"), None],
        ["msgs/s per viewer (busiest, avg)", _get(m, "messages_per_viewer_per_s", "max_mean"),
         _get(b, "messages_per_viewer_per_s", "max_mean"), None],
        ["msgs in 1 s per viewer (peak)", _get(m, "messages_per_viewer_per_s", "max_peak"),
         _get(b, "messages_per_viewer_per_s", "max_peak"), None],
        *byte_rows(m, b),
    ]
    rows += _latency_rows("post → viewer", m.get("latency_ms"), b.get("latency_ms"))
    rows.append(["HTTP 202 p99 (ms)", _get(result, "posting", "measure", "http_ms", "p99"), None, None])
    if scenario == "flood":
        from bench.abuse_report import flood_rows

        rows.append(["HTTP 202 p50 (ms)", _get(result, "posting", "measure", "http_ms", "p50"), None, None])
        rows += flood_rows(result)
    return rows


def soak_rows(result: dict[str, Any]) -> list[list[Any]]:
    load, checker, db = result.get("load") or {}, result.get("checker") or {}, result.get("database") or {}
    statuses = load.get("statuses") or {}
    rows: list[list[Any]] = [["videos", result.get("videos"), None, None],
                             ["actions per second (comments and live reactions)", load.get("rate"), None, None]]
    for kind, counts in statuses.items():
        rows.append([f"{kind}: HTTP statuses", ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())), None,
                     None])
    rows += [
        ["chats closed / terms changed / pins", f"{load.get('videos_closed')} / {load.get('videos_retermed')} / "
         f"{load.get('comments_pinned')}", None, None],
        ["actions not sent (in flight cap)", load.get("not_sent"), None, None],
        ["events seen / videos / gaps / duplicates", f"{checker.get('events')} / {checker.get('videos')} / "
         f"{checker.get('gaps')} / {checker.get('duplicates')}", None, None],
        ["202'd ids in the database / statuses", f"{db.get('found')} of {db.get('accepted_ids')} / "
         f"{db.get('statuses')}", None, None],
    ]
    return rows


def memory_rows(result: dict[str, Any]) -> list[list[Any]]:
    return [[m["process"], m["start_mb"], m["end_mb"], m["growth_mb"], m["peak_mb"], m["slope_mb_per_min"],
             m.get("by_design_mb_per_min"), m.get("unexplained_mb_per_min"), m["samples"], m["verdict"]]
            for m in _get(result, "memory", "processes") or []]


BYTE_ROWS = (("bytes/s per viewer (avg)", "mean_of_means"), ("bytes/s per viewer (busiest, avg)", "max_mean"),
             ("bytes in 1 s per viewer (peak)", "max_peak"))


def _with_batches(summary: dict[str, Any], key: str) -> str | None:
    total = _get(summary, "bytes_per_viewer_per_s", key)
    if total is None:
        return None
    return f"{_fmt(total)} (comment batches: {_fmt(_get(summary, 'batch_bytes_per_viewer_per_s', key))})"


def byte_rows(measure: dict[str, Any], bare: dict[str, Any]) -> list[list[Any]]:
    """Bytes a viewer was sent per second, all messages beside the comment batches among them
    (no rows for a result without byte counts)."""
    if _get(measure, "bytes_per_viewer_per_s") is None and _get(bare, "bytes_per_viewer_per_s") is None:
        return []
    return [[label, _with_batches(measure, key), _with_batches(bare, key), None] for label, key in BYTE_ROWS]


def bytes_by_kind_line(result: dict[str, Any]) -> str | None:
    """`viewer bytes by topic: comments 80.0%, recent 15.0%, …`, or None without byte counts."""
    kinds = _get(result, "viewer_bytes", "by_kind")
    if not kinds:
        return None
    shares = ", ".join(f"{kind} {entry['share'] * 100:.1f}%" for kind, entry in kinds.items())
    total = _fmt(result["viewer_bytes"]["total"])
    return f"viewer bytes by topic (every viewer, whole connection, {total} B): {shares}"


def process_rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    windows = result.get("processes") or {}
    names = list(windows)
    roles = sorted({r for w in windows.values() for r in (w.get("roles") or {})})
    rows = []
    for role in roles:
        row: list[Any] = [role]
        for name in names:
            entry = (windows[name].get("roles") or {}).get(role)
            row += [entry["cpu_percent"] if entry else None, entry["rss_mb"] if entry else None]
        rows.append(row)
    rows.append(["machine (% of all cores)"] + [x for n in names for x in
                                                 (windows[n].get("machine_cpu_percent_of_all_cores"), None)])
    header = ["process"] + [x for n in names for x in (f"CPU % ({n})", f"RSS MB ({n})")]
    return header, rows


def table(result: dict[str, Any]) -> str:
    machine = result.get("machine") or {}
    parts = [
        f"livecomments bench {result.get('scenario')} — {result.get('started_at')}",
        f"system: {result.get('system')}",
        f"machine: {machine.get('cores')} cores; load average before {machine.get('load_average_before')}, "
        f"after {machine.get('load_average_after')}",
    ]
    if result.get("command"):
        parts.append(f"command: {result['command']}")
    parts += ["", grid(["target", "wanted", "measured", "met"],
                       [[t["target"], t["wanted"], t["measured"], t["met"]] for t in result.get("targets", [])])]
    bare = "bare endpoint" if result.get("scenario") == "post" else "bare broker"
    parts += ["", grid(["metric", "system", bare, "ratio"], comparison_rows(result))]
    if result.get("memory"):
        memory = result["memory"]
        parts += ["", f"RSS of every process over the measured {memory['window_s']:g} s (sampled every "
                  f"{memory['sample_every_s']:g} s; slope: least squares over {memory['slope_over']}; flat: under "
                  f"{memory['flat_under_mb_per_min']} MB/min):",
                  grid(["process", "start MB", "end MB", "growth MB", "peak MB", "slope MB/min", "by design",
                        "unexplained", "samples", "verdict"], memory_rows(result))]
        design = memory.get("by_design") or {}
        if design:
            broker, bridge = design.get("broker") or {}, design.get("bridge") or {}
            parts.append(f"by design: the broker keeps every video's retained `recent` ({broker.get('start_mb')} → "
                         f"{broker.get('end_mb')} MB of payloads, {broker.get('videos', 0):,} videos); the bridge a "
                         f"recent window of each video published in the last minute "
                         f"({bridge.get('window_comments_start')} → {bridge.get('window_comments_end')} comments, "
                         f"{bridge.get('start_mb')} → "
                         f"{bridge.get('end_mb')} MB); both grow with each video's comments up to recent_size")
    by_kind = bytes_by_kind_line(result)
    if by_kind:
        parts.append(by_kind)
    if result.get("cost"):
        parts += ["", "CPU per unit of work (every process of the part, over the measured window):",
                  grid(["part", "per", "count", "CPU s", "CPU ms per", "budget ms"], cost_rows(result))]
    if result.get("presence"):
        parts += ["", presence_line(result["presence"])]
    if result.get("steps"):
        parts += ["", "where a comment's time goes (bridge histograms: scraped at the measured window's start "
                  "and after the drain):",
                  grid(["step", "p50 ms", "p99 ms", "n", "measured how"], step_rows(result))]
    header, rows = process_rows(result)
    if rows:
        parts += ["", grid(header, rows)]
    for note in list(result.get("notes") or []) + saturated_load(result):
        parts.append(f"note: {note}")
    return "\n".join(parts)


# --- cost per comment and where a comment's time goes ---------------------------------------------------

BUDGET_MS = {"web": 1.0, "bridge": 0.1}  # docs/../design.md, the cost budget per comment
BARE_ENDPOINT_RATIO_TARGET = 2.5


def role_cpu(cpu: dict[str, float], prefix: str) -> float | None:
    """CPU seconds of every role named `prefix` or `prefix (...)` (e.g. broker (mosquitto))."""
    found = [v for role, v in cpu.items() if role == prefix or role.startswith(prefix + " (")]
    return sum(found) if found else None


def cost_entry(part: str, unit: str, cpu_s: float | None, count: float | None,
               budget_ms: float | None = None) -> dict[str, Any]:
    from bench.stats import cpu_ms_per

    ms = cpu_ms_per(cpu_s, count)
    return {"part": part, "unit": unit, "count": count, "cpu_s": None if cpu_s is None else round(cpu_s, 3),
            "ms_per_unit": None if ms is None else round(ms, 4), "budget_ms": budget_ms,
            "met": None if ms is None or budget_ms is None else ms <= budget_ms}


def cost_of(cpu: dict[str, float], units: Sequence[tuple[str, str, float | None]]) -> list[dict[str, Any]]:
    """CPU per unit of work for each (role, unit, count): e.g. ("web", "accepted post", 6000)."""
    out = []
    for role, unit, count in units:
        seconds = role_cpu(cpu, role)
        if seconds is not None:
            out.append(cost_entry(role, unit, seconds, count, BUDGET_MS.get(role)))
    return out


STEP_HISTOGRAMS = (
    ("accepted → committed by the bridge", "livecomments_bridge_ingest_lag_seconds",
     "bridge histogram (ingest_lag): submission ts, set at acceptance, to commit; transit and batching included"),
    ("bridge transaction (per batch)", "livecomments_bridge_commit_seconds",
     "bridge histogram (commit_seconds): one batch's database transaction"),
    ("committed → published (per batch)", "livecomments_bridge_publish_seconds",
     "bridge histogram (publish_seconds): publish on live/ to the broker's PUBACK"),
)


def _step(step: str, summary: Any, how: str) -> dict[str, Any]:
    return {"step": step, "p50_ms": _get(summary, "p50"), "p99_ms": _get(summary, "p99"),
            "n": _get(summary, "count"), "how": how}


def comment_steps(http: Any, histograms: dict[str, Any] | None, viewer: Any,
                  viewer_step: str = "post → at the viewer", bridge: bool = True,
                  viewer_how: str = "viewer: send time (in the comment's text) to receipt, one monotonic clock; "
                  "end to end") -> list[dict[str, Any]]:
    """Where a comment's time goes, step by step, each with how it was measured: `http` and
    `viewer` are LatencySummary (client clocks; None: no such step), `histograms` the bridge's,
    scrape after minus before (None: not scraped)."""
    steps = [] if http is None else [_step("post → HTTP 202 (accepted)", http,
                                           "load generator: send to response, every post")]
    for step, name, how in STEP_HISTOGRAMS if bridge else ():
        h = (histograms or {}).get(name)
        if h is None or h.count <= 0:
            steps.append({"step": step, "p50_ms": None, "p99_ms": None, "n": 0,
                          "how": how + (" (no bridge metrics scraped)" if histograms is None else "")})
            continue
        p50, p99 = h.quantile(0.5), h.quantile(0.99)
        steps.append({"step": step, "p50_ms": None if p50 is None else round(p50 * 1000, 2),
                      "p99_ms": None if p99 is None else round(p99 * 1000, 2), "n": int(h.count), "how": how})
    steps.append(_step(viewer_step, viewer, viewer_how))
    return steps


def cost_rows(result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for c in result.get("cost") or []:
        rows.append([c["part"], c["unit"], c["count"], c["cpu_s"], c["ms_per_unit"],
                     "—" if c["budget_ms"] is None else f"≤ {c['budget_ms']}"])
    return rows


def step_rows(result: dict[str, Any]) -> list[list[Any]]:
    return [[s["step"], s["p50_ms"], s["p99_ms"], s["n"], s["how"]] for s in result.get("steps") or []]
