"""A PostgreSQL server of the test's own, which it may stop and start (the machine's on 5432 it may
not): Debian's binaries, a fresh cluster in a temporary directory, loopback only, trust auth, a
free port kept across restarts.

PostgreSQL refuses to run as root; when the tests run as root the server runs as the `postgres`
user (its data dir is made theirs), otherwise as the caller.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from infra.ports import free_port
from tests.support.stack import wait_for_port
from tests.support.waiting import eventually

RUN_AS_WHEN_ROOT = "postgres"
# Settings for a disposable test cluster: nothing here is a production recommendation.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",  # a fast shutdown still checkpoints; only an OS crash would lose data
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}


def postgres_bin_dir() -> Path:
    """The newest Debian PostgreSQL's bin directory (or wherever `postgres` is on the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("postgres")
    if exe is None:
        raise FileNotFoundError("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    return Path(exe).resolve().parent


@dataclass
class PostgresServer:
    """One cluster: `init()` once, then `start()`, `stop()` (fast by default) as often as a test likes."""

    root: Path  # the cluster's data dir and log live here
    port: int
    bin_dir: Path = field(default_factory=postgres_bin_dir)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on this server, as livecomments takes it."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self) -> dict[str, Any]:
        """Popen's arguments that run a command as the cluster's owner."""
        if os.geteuid() != 0:
            return {}
        return {"user": RUN_AS_WHEN_ROOT, "group": pwd.getpwnam(RUN_AS_WHEN_ROOT).pw_gid}

    def init(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(RUN_AS_WHEN_ROOT)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, cwd=self.root, **self._as_owner(),
        )

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and return once it answers a query."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        options = [arg for name, value in SERVER_OPTIONS.items() for arg in ("-c", f"{name}={value}")]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.root, **self._as_owner(),
            )
        wait_for_port(self.port, timeout_s, proc=self.proc)
        eventually(self._answers, timeout_s, f"PostgreSQL on {self.port} never answered", interval=0.05)

    def _answers(self) -> bool:
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2) as c:
                return c.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:  # still starting up, or recovering
            return False

    def stop(self, mode: signal.Signals = signal.SIGINT, timeout_s: float = 30.0) -> None:
        """Stop it: SIGINT is PostgreSQL's fast shutdown (sessions are ended, a checkpoint is
        written), SIGTERM its smart one, SIGQUIT its immediate one (crash recovery at the next start)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(mode)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def started_postgres_server() -> PostgresServer:
    """A new cluster, initialised and running; `close_postgres_server` stops it and removes it."""
    root = Path(tempfile.mkdtemp(prefix="lc-pg-"))  # not under pytest's tmp: root's is closed to `postgres`
    server = PostgresServer(root, free_port())
    try:
        server.init()
        server.start()
    except BaseException:
        close_postgres_server(server)
        raise
    return server


def close_postgres_server(server: PostgresServer) -> None:
    try:
        server.stop(signal.SIGQUIT)  # the cluster is thrown away: no checkpoint needed
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
