"""The targets and table rows of `bench flood` and `bench overload` (bench/http_flood.py,
bench/overload.py), for bench/report.py."""

from __future__ import annotations

from typing import Any

FLOOD_POST_P99_MS = 1000.0  # posting keeps working: a liveness bound, not the normal scenario's speed target
FLOOD_HELD_SHARE = 0.95  # of the asked connections, on average over the run
REFUSAL_P99_MS = 1000.0  # "refuses with 503 + Retry-After within ~1 s"
ACCEPT_P99_MS = 2000.0  # a 202 waits at most the waiting room's 0.5 s for a slot, then its work
HEALTHZ_MAX_MS = 1000.0


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return getattr(doc, key, None)
        doc = doc.get(key)
    return doc


def _target(name: str, wanted: str, measured: Any, met: bool | None) -> dict[str, Any]:
    return {"target": name, "wanted": wanted, "measured": measured, "met": met}


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def flood_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    flood = result.get("flood") or {}
    posting = _get(result, "posting", "measure") or {}
    asked = sum((flood.get("asked") or {}).values())
    held = sum(_get(flood, "held", kind, "mean") or 0 for kind in (flood.get("held") or {}))
    p99 = _get(posting, "http_ms", "p99")
    posted, accepted = posting.get("posted"), posting.get("accepted")
    return [
        _target("connections held by the flood", f"≥ {FLOOD_HELD_SHARE:.0%} of {asked:,} on average",
                round(held), asked > 0 and held >= FLOOD_HELD_SHARE * asked),
        _target("posts answered 202 during the flood", "all", f"{accepted} of {posted}",
                None if not posted else accepted == posted),
        _target("post → HTTP 202 p99 during the flood", f"≤ {FLOOD_POST_P99_MS:,.0f} ms", p99,
                _le(p99, FLOOD_POST_P99_MS)),
    ]


def flood_rows(result: dict[str, Any]) -> list[list[Any]]:
    flood = result.get("flood") or {}
    rows: list[list[Any]] = []
    for kind, asked in (flood.get("asked") or {}).items():
        held = _get(flood, "held", kind) or {}
        rows.append([f"flood: {kind} held (min / mean / max of {asked:,})",
                     f"{held.get('min')} / {held.get('mean')} / {held.get('max')}", None, None])
    closed = flood.get("closed_by_server") or {}
    rows.append(["flood: closed by the server (reopened)", ", ".join(f"{k}: {v:,}" for k, v in closed.items())
                 or "none", None, None])
    answers = flood.get("answers_before_close") or {}
    rows.append(["flood: answers before a close", ", ".join(f"{k}: {v:,}" for k, v in answers.items()) or "none",
                 None, None])
    rows.append(["flood: its process's CPU over the delivery (s)", flood.get("flood_process_cpu_s"), None, None])
    if flood.get("open_errors"):
        rows.append(["flood: failed opens", flood["open_errors"], None, None])
    statuses = _get(result, "posting", "measure", "statuses") or {}
    rows.append(["posts: HTTP statuses", ", ".join(f"{k}: {v:,}" for k, v in statuses.items()), None, None])
    return rows


def overload_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    o = result.get("overload") or {}
    out = []
    for phase in o.get("phases") or []:
        who = "honouring" if "honour" in phase["clients"] else "ignoring"
        to_503, to_202 = _get(phase, "to_503_ms", "p99"), _get(phase, "to_202_ms", "p99")
        health = _get(phase, "healthz", "ms", "max")
        others = phase.get("others") or {}
        out += [
            _target(f"every post answered 202 or 503 ({who} Retry-After)", "nothing else (-1: no answer in 30 s)",
                    ", ".join(f"{k}: {v}" for k, v in others.items()) or "all",
                    not others if phase.get("posted") else None),
            _target(f"time to a 503, p99 ({who})", f"≤ {REFUSAL_P99_MS:,.0f} ms", to_503, _le(to_503, REFUSAL_P99_MS)),
            _target(f"time to a 202, p99 ({who})", f"≤ {ACCEPT_P99_MS:,.0f} ms", to_202, _le(to_202, ACCEPT_P99_MS)),
            _target(f"/healthz meanwhile, max ({who})", f"≤ {HEALTHZ_MAX_MS:,.0f} ms", health,
                    _le(health, HEALTHZ_MAX_MS)),
        ]
    db, rows = result.get("database"), result.get("video_rows")
    if db is not None and rows is not None:
        ok = db["missing"] == 0 and rows["rows"] == rows["accepted_all_phases"]
        out.append(_target("202s stored, 503s not", "every 202'd id stored; the video's rows = its 202s",
                           f"{db['missing']} missing; {rows['rows']} rows for {rows['accepted_all_phases']} 202s", ok))
    return out


def overload_rows(result: dict[str, Any]) -> list[list[Any]]:
    o = result.get("overload") or {}
    rows: list[list[Any]] = [
        ["offered posts/s (client connections)", f"{o.get('offered_per_s'):,.0f} ({o.get('connections'):,})",
         None, None]]
    for phase in o.get("phases") or []:
        rows += [
            [f"{phase['clients']}, {phase['seconds']:g} s:", None, None, None],
            ["  posts sent (per s)", f"{phase['posted']:,} ({phase['sent_per_s']})", None, None],
            ["  not sent: client waiting / backing off", f"{phase['not_sent_waiting']:,} / "
             f"{phase['not_sent_backing_off']:,}", None, None],
            ["  HTTP statuses", ", ".join(f"{k}: {v:,}" for k, v in (phase.get("statuses") or {}).items()),
             None, None],
            ["  share refused (503)", phase.get("share_refused"), None, None],
            ["  202s / 503s per second", f"{phase.get('accepted_per_s')} / {phase.get('refused_per_s')}", None, None],
        ]
        for label, summary in (("time to a 202", phase.get("to_202_ms")), ("time to a 503", phase.get("to_503_ms")),
                               ("/healthz", _get(phase, "healthz", "ms"))):
            rows.append([f"  {label} p50 / p99 / max (ms)",
                         " / ".join(_num(_get(summary, q)) for q in ("p50", "p99", "max")), None, None])
    return rows
