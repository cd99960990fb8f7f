"""CPU and memory of every process of a run, sampled with psutil: the system's parts and
the load generators alike, so a run says where the CPU went."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from bench.stats import cpu_at, cpu_percent

Roles = Callable[[], dict[str, list[int]]]


@dataclass
class Sample:
    t: float  # time.monotonic()
    cpu_s: dict[int, float]  # pid -> user + system seconds
    rss: dict[int, int]  # pid -> bytes
    role_of: dict[int, str]
    system_busy_s: float  # all cores, seconds not idle since boot


def postgres_pids(database: str | None) -> list[int]:
    """The PostgreSQL backends serving one database, and the server's own writers."""
    if database is None:
        return []
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if not cmd.startswith("postgres:"):
            continue
        if f" {database} " in cmd or any(w in cmd for w in ("walwriter", "checkpointer", "background writer")):
            found.append(proc.pid)
    return found


@dataclass
class Monitor:
    """Samples every `interval` seconds in a thread; `window(t0, t1)` summarises a stretch."""

    roles: Roles
    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _procs: dict[int, psutil.Process] = field(default_factory=dict)

    def start(self) -> Monitor:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> Sample:
        cpu: dict[int, float] = {}
        rss: dict[int, int] = {}
        role_of: dict[int, str] = {}
        for role, pids in self.roles().items():
            for pid in pids:
                proc = self._procs.get(pid)
                try:
                    if proc is None:
                        proc = self._procs[pid] = psutil.Process(pid)
                    with proc.oneshot():
                        times = proc.cpu_times()
                        cpu[pid] = times.user + times.system
                        rss[pid] = proc.memory_info().rss
                    role_of[pid] = role
                except psutil.Error:
                    continue
        total = psutil.cpu_times()
        busy = total.user + total.system + getattr(total, "nice", 0.0) + getattr(total, "irq", 0.0) + getattr(
            total, "softirq", 0.0)
        sample = Sample(time.monotonic(), cpu, rss, role_of, busy)
        self.samples.append(sample)
        return sample

    def cpu_seconds(self, t0: float, t1: float) -> dict[str, float]:
        """CPU seconds per role over exactly [t0, t1] (time.monotonic())."""
        return cpu_by_role(list(self.samples), t0, t1)

    def window(self, t0: float, t1: float) -> dict[str, object]:
        """Per role: CPU in % of one core over [t0, t1] and the largest RSS seen; the machine's CPU."""
        inside = [s for s in self.samples if t0 - self.interval <= s.t <= t1 + self.interval]
        if len(inside) < 2:
            return {"roles": {}, "machine_cpu_percent": None, "seconds": 0.0}
        first, last = inside[0], inside[-1]
        wall = last.t - first.t
        roles: dict[str, dict[str, float]] = {}
        for pid, role in last.role_of.items():
            before = next((s.cpu_s[pid] for s in inside if pid in s.cpu_s), None)
            if before is None:
                continue
            entry = roles.setdefault(role, {"cpu_percent": 0.0, "rss_mb": 0.0, "processes": 0})
            first_seen = next(s.t for s in inside if pid in s.cpu_s)
            span = last.t - first_seen
            entry["cpu_percent"] += cpu_percent(before, last.cpu_s[pid], span) * (span / wall if wall else 0)
            entry["rss_mb"] += max(s.rss.get(pid, 0) for s in inside) / 2**20
            entry["processes"] += 1
        cores = psutil.cpu_count() or 1
        machine = cpu_percent(first.system_busy_s, last.system_busy_s, wall) / cores
        return {
            "seconds": round(wall, 2),
            "roles": {r: {k: round(v, 1) for k, v in e.items()} for r, e in sorted(roles.items())},
            "machine_cpu_percent_of_all_cores": round(machine, 1),
            "cores": cores,
        }


def cpu_by_role(samples: list[Sample], t0: float, t1: float) -> dict[str, float]:
    """CPU seconds each role used over [t0, t1], every process's cumulative CPU interpolated
    between the samples around t0 and t1 (a process born or gone inside counts what it was seen using)."""
    series: dict[int, list[tuple[float, float]]] = {}
    role_of: dict[int, str] = {}
    for s in sorted(samples, key=lambda s: s.t):
        for pid, cpu in s.cpu_s.items():
            series.setdefault(pid, []).append((s.t, cpu))
            role_of[pid] = s.role_of[pid]
    out: dict[str, float] = {}
    for pid, points in series.items():
        start, end = cpu_at(points, t0), cpu_at(points, t1)
        if start is not None and end is not None:
            out[role_of[pid]] = out.get(role_of[pid], 0.0) + max(0.0, end - start)
    return out


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
