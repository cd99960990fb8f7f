"""The process harness: livecomments commands as child processes, on free ports, with their own
data dir and environment (`Stack`), each one a `Service` that is stopped after the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.ports import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until something accepts connections on the loopback port (RuntimeError if `proc` exits first)."""

    def listening() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    eventually(listening, timeout, f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Service:
    """A livecomments command running as a child process."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    ports: list[int] = field(default_factory=list)

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "livecomments", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        for port in self.ports:
            wait_for_port(port, proc=self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Stack:
    """Ports, data dir and environment shared by the processes of one test system."""

    data_dir: Path
    mqtt_port: int
    ws_port: int
    http_port: int
    secret: str = "test-secret-0123456789abcdef0123456789"
    database_url: str | None = None  # None: SQLite in the data dir
    services: list[Service] = field(default_factory=list)

    @classmethod
    def on_free_ports(cls, data_dir: Path) -> Stack:
        """A stack whose MQTT, WebSocket and HTTP ports are free loopback ports, its data dir created."""
        data_dir.mkdir(parents=True)
        return cls(data_dir, free_port(), free_port(), free_port())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'livecomments.sqlite3'}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
        env.update(
            LIVECOMMENTS_DATA_DIR=str(self.data_dir),
            LIVECOMMENTS_MQTT_PORT=str(self.mqtt_port),
            LIVECOMMENTS_WS_PORT=str(self.ws_port),
            LIVECOMMENTS_HTTP_PORT=str(self.http_port),
            LIVECOMMENTS_SECRET=self.secret,
            LIVECOMMENTS_SWEEP_AFTER_S="1",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["LIVECOMMENTS_DATABASE_URL"] = self.database_url
        return env

    def service(self, name: str, *args: str, ports: list[int] | None = None) -> Service:
        svc = Service(
            [name, *args], self.env, self.data_dir / f"{name}-{len(self.services)}.log", ports=ports or []
        )
        self.services.append(svc)
        return svc

    def broker(self) -> Service:
        return self.service("broker", ports=[self.mqtt_port, self.ws_port]).start()

    def bridge(self) -> Service:
        return self.service("bridge").start()

    def web(self) -> Service:
        return self.service("web", ports=[self.http_port]).start()

    def stop_all(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass
