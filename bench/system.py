"""The system under test: started by the benchmark (free ports, a temporary data dir, a
fresh PostgreSQL database, its own Redis and Mosquitto), or a running one named by URLs.

Production stack: Mosquitto (through `broker.mosquitto.MosquittoProcess`), PostgreSQL,
Redis, the bridge and the web app as `python -m livecomments ...` child processes, as
tests/conftest.py starts them. Embedded default: the amqtt broker and SQLite, no Redis.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bench.conn import Endpoint
from infra.credentials import CREDENTIALS_FILE
from infra.ports import free_port
from livecomments import tokens

log = logging.getLogger("bench.system")

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("LIVECOMMENTS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - a throwaway system's token key


class StartError(RuntimeError):
    pass


@dataclass(frozen=True)
class StackSpec:
    broker: Literal["mosquitto", "amqtt"]
    database: Literal["postgresql", "sqlite"]
    redis: bool
    web: bool = True
    bridge: bool = True

    @property
    def name(self) -> str:
        parts = [self.broker, self.database] + (["redis"] if self.redis else [])
        return " + ".join(parts)


PRODUCTION = StackSpec("mosquitto", "postgresql", True)
EMBEDDED = StackSpec("amqtt", "sqlite", False)


class Target(Protocol):
    """What a scenario needs of a system, started here or already running."""

    @property
    def http(self) -> str: ...
    @property
    def mqtt(self) -> Endpoint: ...
    @property
    def ws(self) -> Endpoint: ...
    @property
    def secret(self) -> str | None: ...
    @property
    def database_url(self) -> str | None: ...
    @property
    def description(self) -> str: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def bridge_metrics(self) -> str | None: ...
    def password(self, account: str) -> str | None: ...
    def processes(self) -> dict[str, list[int]]: ...
    def postgres_database(self) -> str | None: ...


def wait_for_port(host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise StartError(f"nothing listens on {host}:{port} after {timeout:g} s")


def http_json(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own http:// URL
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def wait_ready(http: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            http_json("GET", f"{http}/readyz", timeout=2)
            return
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.1)
    raise StartError(f"{http}/readyz never answered 200 within {timeout:g} s")


def create_video(target: Target, video_id: str, title: str = "benchmark") -> None:
    if target.secret is None:
        raise StartError("need the token secret to create a video (--secret or LIVECOMMENTS_SECRET)")
    admin = tokens.issue(target.secret, "bench-admin", "Bench admin", ["admin"], 3600)
    http_json("POST", f"{target.http}/api/videos", {"id": video_id, "title": title}, admin)


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (the web app's worker processes)."""
    import psutil

    try:
        return [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return [pid]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class LocalSystem:
    """Every part of the system as child processes of this one, on free loopback ports."""

    spec: StackSpec
    keep: bool = False  # keep the data dir afterwards (logs)
    host: str = "127.0.0.1"
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="livecomments-bench-")))
    http_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    web_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # as docs/operations.md says to run it
    extra_env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _children: list[Child] = field(default_factory=list)
    _mosquitto: Any = None
    _pg_name: str | None = None
    _database_url: str | None = None
    _redis_url: str | None = None

    # -- Target -----------------------------------------------------------------------------

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def mqtt(self) -> Endpoint:
        return Endpoint.tcp(self.host, self.mqtt_port)

    @property
    def ws(self) -> Endpoint:
        return Endpoint.ws(self.host, self.ws_port)

    @property
    def secret(self) -> str:
        return SECRET

    @property
    def database_url(self) -> str:
        return self._database_url or f"sqlite:///{self.data_dir / 'livecomments.sqlite3'}"

    @property
    def description(self) -> str:
        parts = [self.spec.broker, "PostgreSQL" if self._pg_name else "SQLite"]
        if self._redis_url:
            parts.append("Redis")
        return " + ".join(parts) + f" (started by the benchmark, data dir {self.data_dir})"

    @property
    def bridge_metrics(self) -> str | None:
        return f"http://{self.host}:{self.metrics_port}/metrics" if self.spec.bridge else None

    def password(self, account: str) -> str | None:
        doc = json.loads((self.data_dir / CREDENTIALS_FILE).read_text())
        value = doc["passwords"].get(account)
        return str(value) if value is not None else None

    def processes(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        if self._mosquitto is not None and self._mosquitto.pid is not None:
            out["broker (mosquitto)"] = [self._mosquitto.pid]
        for child in self._children:
            if child.proc.poll() is None:
                out.setdefault(child.name, []).extend(process_tree(child.proc.pid))
        return out

    def postgres_database(self) -> str | None:
        return self._pg_name

    # -- lifecycle --------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECOMMENTS_")}
        env.update(
            LIVECOMMENTS_DATA_DIR=str(self.data_dir),
            LIVECOMMENTS_HOST=self.host,
            LIVECOMMENTS_HTTP_PORT=str(self.http_port),
            LIVECOMMENTS_MQTT_PORT=str(self.mqtt_port),
            LIVECOMMENTS_WS_PORT=str(self.ws_port),
            LIVECOMMENTS_SECRET=SECRET,
            PYTHONUNBUFFERED="1",
        )
        if self._database_url:
            env["LIVECOMMENTS_DATABASE_URL"] = self._database_url
        if self._redis_url:
            env["LIVECOMMENTS_REDIS_URL"] = self._redis_url
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        path = self.data_dir / f"{name.split()[0]}.log"
        with path.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and servers
                list(argv), env=env or self.env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        child = Child(name, proc, path)
        self._children.append(child)
        return child

    def _livecomments(self, name: str, command: str, env: dict[str, str] | None = None) -> Child:
        return self._spawn(name, [sys.executable, "-m", "livecomments", command], env)

    def start(self) -> LocalSystem:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_data()
            self._start_broker()
            if self.spec.bridge:
                env = {**self.env(), "LIVECOMMENTS_BRIDGE_METRICS_PORT": str(self.metrics_port)}
                bridge = self._livecomments("bridge", "bridge", env)
                wait_for_port(self.host, self.metrics_port, 60, bridge.proc)
            if self.spec.web:
                web = self._spawn("web", [sys.executable, "-m", "livecomments", "web", "--workers",
                                          str(self.web_workers)])
                wait_for_port(self.host, self.http_port, 60, web.proc)
                wait_ready(self.http)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_data(self) -> None:
        if self.spec.database == "postgresql":
            self._create_postgres()
        if self.spec.redis:
            exe = shutil.which("redis-server")
            if exe is None:
                self.notes.append("redis-server is not installed: ran without Redis")
            else:
                port = free_port()
                child = self._spawn("redis", [exe, "--port", str(port), "--bind", self.host, "--save", "",
                                              "--appendonly", "no", "--dir", str(self.data_dir)])
                wait_for_port(self.host, port, 20, child.proc)
                self._redis_url = f"redis://{self.host}:{port}/0"

    def _create_postgres(self) -> None:
        import psycopg

        name = f"lc_bench_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            self.notes.append(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL} ({exc}): ran on SQLite")
            return
        self._pg_name = name
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        self._database_url = f"{base}/{name}"

    def _drop_postgres(self) -> None:
        if self._pg_name is None:
            return
        import psycopg

        with contextlib.suppress(psycopg.Error), psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True,
                                                                 connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
        self._pg_name = None

    def _start_broker(self) -> None:
        from infra.credentials import ensure_credentials

        ensure_credentials(self.data_dir)
        if self.spec.broker == "mosquitto":
            from broker.mosquitto import MosquittoProcess
            from livecomments.config import Settings

            settings = Settings(data_dir=self.data_dir, host=self.host, mqtt_port=self.mqtt_port,
                                ws_port=self.ws_port, secret=SECRET)
            self._mosquitto = MosquittoProcess(settings)
            self._mosquitto.start()
        else:
            child = self._livecomments("broker (amqtt)", "broker")
            wait_for_port(self.host, self.mqtt_port, 60, child.proc)
            wait_for_port(self.host, self.ws_port, 60, child.proc)

    def stop(self) -> None:
        for child in reversed(self._children):
            try:
                child.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("could not stop %s", child.name)
        self._children.clear()
        if self._mosquitto is not None:
            self._mosquitto.stop()
            self._mosquitto = None
        self._drop_postgres()
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass
class RemoteSystem:
    """A running system named by URLs (`--target`). It runs elsewhere, so its processes are
    not sampled; the bare-broker phase needs the bridge account's password (--data-dir)."""

    http: str
    mqtt: Endpoint
    ws: Endpoint
    secret: str | None
    database_url: str | None
    data_dir: Path | None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_urls(cls, urls: Iterable[str], secret: str | None, database_url: str | None,
                  data_dir: Path | None) -> RemoteSystem:
        http = mqtt = ws = None
        for url in urls:
            scheme = url.split(":", 1)[0]
            if scheme in ("http", "https"):
                http = url.rstrip("/")
            elif scheme in ("mqtt", "tcp"):
                mqtt = Endpoint(url)
            elif scheme in ("ws", "wss"):
                ws = Endpoint(url if url.count("/") > 2 else url + "/mqtt")
            else:
                raise StartError(f"--target {url!r}: use http://, mqtt:// or ws:// URLs")
        if http is None or mqtt is None or ws is None:
            raise StartError("--target needs the web app (http://), MQTT (mqtt://) and WebSocket (ws://) URLs")
        return cls(http, mqtt, ws, secret, database_url, data_dir)

    @property
    def description(self) -> str:
        return f"running system at {self.http}, {self.mqtt.url}, {self.ws.url} (not started by the benchmark)"

    def password(self, account: str) -> str | None:
        if self.data_dir is None or not (self.data_dir / CREDENTIALS_FILE).exists():
            return None
        value = json.loads((self.data_dir / CREDENTIALS_FILE).read_text())["passwords"].get(account)
        return str(value) if value is not None else None

    @property
    def bridge_metrics(self) -> str | None:
        return None  # the bridge's metrics port is its operator's business: not scraped

    def processes(self) -> dict[str, list[int]]:
        return {}

    def postgres_database(self) -> str | None:
        return None
