"""`livecomments bench overload`: posts offered beyond what the web app can take.

Client processes (bench.overload_load) hold `--connections` clients, one kept-alive connection
and one request at a time each (default 1,000: many browsers, not a proxy's pool), posting on an
open-loop schedule of `--rate` posts/s in all, each post with its own Idempotency-Key: `--warmup`
seconds, then `--duration` seconds of clients that honour Retry-After (as the page does) and as
long of clients that ignore it; /healthz is asked every PROBE_EVERY_S meanwhile. The web app
must answer each post with a 202 or, refusing at the door (webapp.admission), the contract's 503
with Retry-After, fast. Reported for each measured phase: the share of 503s, the time to a 503
and to a 202 (p50, p99, max: from the request on the wire to its answer), anything else (no
answer within 30 s, another status), the posts not sent because their client still waited,
/healthz's times, and the database: every 202'd id stored, and no more rows for the video than
202s (a 503 recorded nothing)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Any

from bench.overload_load import ClientsConfig, Record, clients
from bench.stats import LatencySummary, Phase, throughput
from bench.system import StartError, Target, create_video
from bench.workers import Worker

PROBE_EVERY_S = 0.1
CLIENT_TIMEOUT_S = 30.0
USERS_PER_POST_PER_S = 3  # each user posts about once per 3 s: under the rate limit (20 per 30 s)


class Probe:
    """GET /healthz every PROBE_EVERY_S in a thread: each answer's status and time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, int, float]] = []  # (monotonic start, status or -1, ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-probe", daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(PROBE_EVERY_S):
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=CLIENT_TIMEOUT_S) as response:  # noqa: S310 - ours
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError):
                status = -1
            self.answers.append((t0, status, (time.monotonic() - t0) * 1000))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(CLIENT_TIMEOUT_S + 5)

    def summary(self, t0: float, t1: float) -> dict[str, Any]:
        mine = [(s, ms) for t, s, ms in self.answers if t0 <= t < t1]
        return {"asked": len(mine), "statuses": _count(s for s, _ in mine),
                "ms": LatencySummary.of(ms for _, ms in mine)}


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


POLITE, RUDE = int(Phase.MEASURE), 4  # measured phases: clients that honour Retry-After, then clients that do not
MEASURED = {POLITE: "clients honour Retry-After (as the page does)", RUDE: "clients ignore Retry-After"}


def answers_summary(records: list[Record], phase: int, not_sent: dict[str, int], seconds: float) -> dict[str, Any]:
    """One measured phase's posts: statuses, the share refused, the time to each kind of answer."""
    by_status: dict[int, list[float]] = {}
    for p, status, t_send, t_done, _id in records:
        if p == phase:
            by_status.setdefault(status, []).append((t_done - t_send) / 1e6)
    accepted, refused = by_status.get(202, []), by_status.get(503, [])
    posted = sum(len(v) for v in by_status.values())
    others = {str(s): len(v) for s, v in by_status.items() if s not in (202, 503)}
    return {
        "clients": MEASURED[phase], "seconds": seconds,
        "posted": posted, "accepted": len(accepted), "refused": len(refused), "others": others,
        "not_sent_waiting": not_sent.get(f"{phase} waiting", 0),
        "not_sent_backing_off": not_sent.get(f"{phase} backing off", 0),
        "sent_per_s": round(throughput(posted, seconds), 1),
        "statuses": {str(s): len(v) for s, v in sorted(by_status.items())},
        "share_refused": round(len(refused) / posted, 4) if posted else None,
        "accepted_per_s": round(throughput(len(accepted), seconds), 1),
        "refused_per_s": round(throughput(len(refused), seconds), 1),
        "to_202_ms": LatencySummary.of(accepted), "to_503_ms": LatencySummary.of(refused),
        "slowest_answer_ms": round(max((ms for v in by_status.values() for ms in v), default=0.0), 1),
    }


def run_overload(options: Any, target: Target) -> dict[str, Any]:
    """A warm-up, then `--duration` seconds with clients that honour Retry-After, then as long
    with clients that do not, all at `--rate` posts/s offered."""
    from bench.http_flood import host_port
    from bench.run import Fleet, check_database, count_video_rows, issue_tokens, roles_of, split

    if target.secret is None:
        raise StartError("the overload needs the target's token secret (--secret or LIVECOMMENTS_SECRET)")
    video_id = f"bench-overload-{int(time.time())}"
    create_video(target, video_id)
    procs = options.poster_procs
    users = max(procs, int(options.rate * USERS_PER_POST_PER_S))
    fleet = Fleet()
    monitor = roles_of(target, fleet)
    probe = Probe(f"{target.http}/healthz")
    start_ns = time.monotonic_ns() + int(3e9)
    rate = options.rate / procs
    schedule = [(int(Phase.WARMUP), options.warmup, rate, True), (POLITE, options.duration, rate, True),
                (RUDE, options.duration, rate, False)]
    host, port = host_port(target.http)
    records: list[Record] = []
    errors: dict[str, int] = {}
    not_sent: dict[str, int] = {}
    try:
        workers, first = [], 0
        for i, (n_users, n_clients) in enumerate(zip(split(users, procs), split(options.connections, procs),
                                                     strict=True)):
            config = ClientsConfig(i, host, port, video_id, issue_tokens(target.secret, first, n_users),
                                   max(1, n_clients), schedule, start_ns, CLIENT_TIMEOUT_S)
            first += n_users
            workers.append(fleet.add(Worker.spawn(f"clients-{i}", clients, config)))
        for w in workers:
            w.recv(timeout=60)
        monitor.start()
        probe.start()
        for w in workers:
            body = w.recv(timeout=options.warmup + 2 * options.duration + CLIENT_TIMEOUT_S + 120)[1]
            records += body["records"]
            for into, got in ((not_sent, body["not_sent"]), (errors, body["errors"])):
                for k, n in got.items():
                    into[k] = into.get(k, 0) + n
        probe.stop()
        monitor.stop()
    finally:
        fleet.stop()
    t_polite = start_ns / 1e9 + options.warmup
    t_rude = t_polite + options.duration
    t_end = t_rude + options.duration
    result: dict[str, Any] = {"video_id": video_id, "notes": []}
    result["overload"] = {
        "offered_per_s": options.rate, "connections": options.connections, "client_procs": procs,
        "client_errors": errors,
        "phases": [{**answers_summary(records, POLITE, not_sent, options.duration),
                    "healthz": probe.summary(t_polite, t_rude)},
                   {**answers_summary(records, RUDE, not_sent, options.duration),
                    "healthz": probe.summary(t_rude, t_end)}],
    }
    ids = [r[4] for r in records if r[1] == 202]
    result["database"] = check_database(target.database_url, ids)
    rows = count_video_rows(target.database_url, video_id)
    result["video_rows"] = None if rows is None else {**rows, "rows": sum(rows["statuses"].values()),
                                                      "accepted_all_phases": len(ids)}
    result["processes"] = {"measure": monitor.window(t_polite, t_end)}
    return result
