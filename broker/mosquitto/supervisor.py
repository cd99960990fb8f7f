"""A supervised `mosquitto -c <conf>` child process: started, watched, restarted with
backoff when it dies (within a budget), and stopped. A `livecomments.service.Service`.

`RestartPolicy` and `RestartBudget` are the pure part (when to restart, when to give up);
`SupervisedBroker` runs the child on a supervising thread.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from broker.mosquitto.host import mosquitto_executable
from broker.mosquitto.rlimit import raise_fd_limit
from infra import ports

log = logging.getLogger(__name__)


class MosquittoStartError(RuntimeError):
    """Mosquitto could not start (not installed, a port taken, a bad configuration)."""


@dataclass(frozen=True)
class RestartPolicy:
    """At most `max_restarts` restarts within `window_s`; waits `base_s`, doubling, up to `cap_s`."""

    max_restarts: int = 5
    window_s: float = 60.0
    base_s: float = 0.5
    cap_s: float = 10.0
    start_timeout_s: float = 15.0
    stop_timeout_s: float = 10.0

    def delay(self, recent_restarts: int) -> float:
        return float(min(self.cap_s, self.base_s * 2 ** max(0, recent_restarts - 1)))


class RestartBudget:
    """The unplanned deaths within the policy's window, and what to do after one more. Pure: takes the time."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._deaths: collections.deque[float] = collections.deque()

    @property
    def recent(self) -> int:
        """Deaths within the window as of the last one recorded."""
        return len(self._deaths)

    def after_death(self, now: float) -> float | None:
        """Seconds to wait before restarting, or None: too many deaths within the window, give up."""
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.policy.window_s:
            self._deaths.popleft()
        if len(self._deaths) > self.policy.max_restarts:
            return None
        return self.policy.delay(len(self._deaths))


_PR_SET_PDEATHSIG = 1
try:  # looked up now: between fork and exec the child must not load anything
    _PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class SupervisedBroker:
    """One `mosquitto -c conf` child process, kept running.

    `start()` returns once every endpoint accepts TCP connections (or raises
    MosquittoStartError); a broker that dies afterwards is restarted on the same
    configuration, with backoff, at most `policy.max_restarts` times within
    `policy.window_s` (then `gave_up` is set). `restart()` restarts it on purpose,
    `stop()` ends it with SIGTERM (SIGKILL after `policy.stop_timeout_s`); it may be
    called twice, or before `start()`. `is_alive()` is true while supervised: running, or
    waiting to be restarted; false once stopped or given up. The child gets SIGTERM if the
    supervising thread's process dies without stopping it.
    """

    def __init__(
        self,
        name: str,
        conf: Path,
        endpoints: Sequence[tuple[str, int]],
        log_path: Path,
        *,
        policy: RestartPolicy | None = None,
        prepare: Callable[[], None] | None = None,
        fd_needed: int = 0,
    ) -> None:
        self.name = name
        self.conf = conf
        self.endpoints = list(endpoints)
        self.log_path = log_path
        self.policy = policy or RestartPolicy()
        self.restarts = 0  # unplanned restarts so far
        self.gave_up = threading.Event()
        self._prepare = prepare
        self._fd_needed = fd_needed
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._spawned = 0  # children started so far; each gets the next number
        self._generation = 0  # the number of the latest child that came up (listening)
        self._stopping = threading.Event()
        self._restart_requested = False
        self._thread: threading.Thread | None = None
        self._start_error: str | None = None

    @property
    def pid(self) -> int | None:
        with self._cond:
            return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_alive(self) -> bool:
        """Supervised: running, or about to be restarted."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: a supervisor starts once")
        if self._prepare is not None:
            self._prepare()
        executable = mosquitto_executable()
        for host, port in self.endpoints:
            if not ports.is_free(host, port):
                raise MosquittoStartError(f"{self.name}: cannot listen on {host}:{port}: the port is taken")
        raise_fd_limit(self._fd_needed)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._supervise, args=(executable,), name=f"{self.name}-supervisor",
                                        daemon=True)
        self._thread.start()
        if not self._wait_generation(1, self.policy.start_timeout_s):
            error = self._start_error or f"not listening within {self.policy.start_timeout_s:g} s"
            self.stop()
            raise MosquittoStartError(f"{self.name}: {error}")
        log.info("%s (pid %s) is listening on %s", self.name, self.pid,
                 ", ".join(f"{h}:{p}" for h, p in self.endpoints))

    def restart(self, timeout: float | None = None) -> None:
        """Stop the broker with SIGTERM and start it again; returns once it listens again."""
        with self._cond:
            target = self._spawned + 1  # a child started after this request must come up
            self._restart_requested = True
            proc = self._proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        if not self._wait_generation(target, timeout or self.policy.start_timeout_s + self.policy.stop_timeout_s):
            raise MosquittoStartError(f"{self.name}: did not come back after a restart")

    def stop(self) -> None:
        if self._thread is None:  # not started: nothing to stop
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(self.policy.stop_timeout_s + 5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- the supervising thread -------------------------------------------------------------

    def _wait_generation(self, generation: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._generation >= generation or self._start_error is not None or self.gave_up.is_set()
                or not (self._thread and self._thread.is_alive()),
                timeout,
            ) and self._generation >= generation

    def _supervise(self, executable: str) -> None:
        budget = RestartBudget(self.policy)
        try:
            while not self._stopping.is_set():
                proc = self._spawn(executable)
                if proc is None:
                    return
                with self._cond:
                    number = self._spawned
                came_up = self._await_listening(proc)
                if came_up:
                    with self._cond:
                        self._generation = number
                        self._cond.notify_all()
                elif self._generation == 0:
                    self._terminate(proc)
                    with self._cond:
                        self._start_error = f"exited with {proc.returncode}: {self.log_tail(8)}"
                        self._cond.notify_all()
                    return
                else:
                    self._terminate(proc)  # a restart that does not come up counts as one more death
                code = self._watch(proc)
                if self._stopping.is_set():
                    return
                with self._cond:
                    planned, self._restart_requested = self._restart_requested, False
                if planned:
                    log.info("%s restarting on request", self.name)
                    continue
                delay = budget.after_death(time.monotonic())
                if delay is None:
                    log.error("%s died %d times within %g s; giving up. Its log ends:\n%s",
                              self.name, budget.recent, self.policy.window_s, self.log_tail())
                    self.gave_up.set()
                    return
                self.restarts += 1
                log.warning("%s exited unexpectedly (code %s); restarting in %.1f s", self.name, code, delay)
                if self._stopping.wait(delay):
                    return
        finally:
            with self._cond:
                self._cond.notify_all()

    def _spawn(self, executable: str) -> subprocess.Popen[bytes] | None:
        with self.log_path.open("ab") as out:
            try:
                proc = subprocess.Popen(  # noqa: S603 - the mosquitto executable on our own config
                    [executable, "-c", str(self.conf)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,  # only a prctl between fork and exec
                )
            except OSError as exc:
                with self._cond:
                    self._start_error = f"cannot run {executable}: {exc}"
                    self._cond.notify_all()
                return None
        with self._cond:
            self._proc = proc
            self._spawned += 1
            self._restart_requested = False  # a pending restart request is being served
        return proc

    def _await_listening(self, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.policy.start_timeout_s
        pending = list(self.endpoints)
        while pending and time.monotonic() < deadline and not self._stopping.is_set():
            if proc.poll() is not None:
                return False
            host, port = pending[0]
            if _accepts(host, port):
                pending.pop(0)
            else:
                time.sleep(0.02)
        return not pending and proc.poll() is None

    def _watch(self, proc: subprocess.Popen[bytes]) -> int | None:
        """Wait until the child exits (its code) or we are stopping (then stop it)."""
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if self._stopping.is_set():
                    self._terminate(proc)
                    return proc.returncode

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.policy.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %g s; killing it", self.name, self.policy.stop_timeout_s)
                proc.kill()
                proc.wait(5)


def _accepts(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host  # noqa: S104
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False
