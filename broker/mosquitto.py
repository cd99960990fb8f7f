"""Mosquitto 2.0 for livecomments: its files generated from Settings, and a supervised process.

- `render_config` renders a `mosquitto.conf` from one template (`_GLOBAL`, `_LISTENER`,
  `_BRIDGE` below). The repository's root `mosquitto.conf` is this template rendered for
  one production broker (`render_production_example`); a test keeps the two equal.
- `render_acl` renders the ACL file from the rules in `broker.acl` (the same rules the
  embedded broker applies) under the configured live/ingest prefixes, plus two accounts
  only Mosquitto has: an edge broker's bridge (reads live/) and an operator (reads $SYS/).
- `write_password_file` hashes the data dir's generated passwords with `mosquitto_passwd -U`.
- `write_files(settings)` writes all three for a data dir (`livecomments mosquitto-config`).
- `SupervisedBroker` runs `mosquitto -c <conf>` as a child process, waits until its
  listeners accept, restarts it if it dies (bounded, with backoff) and stops it;
  `MosquittoProcess(settings)` is that for the data dir's single broker (`up --broker mosquitto`).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import json
import logging
import math
import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Literal

from broker import acl
from infra import ports
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE, SERVICE_ACCOUNTS, ensure_credentials
from livecomments.config import BRIDGE_BATCH_MAX, ConfigError, Settings
from livecomments.topics import Topics

log = logging.getLogger(__name__)

WS_PATH = "/mqtt"  # what clients use; Mosquitto 2.0.11 serves MQTT on any WebSocket path

# Accounts only Mosquitto has (the embedded broker needs neither).
ACCOUNT_EDGE = "bridge-edge"  # an edge broker's bridge to the core
ACCOUNT_OPERATOR = "operator"  # monitoring: `livecomments cluster status`
ROLE_EDGE = "edge"
ROLE_MONITOR = "monitor"
BROKER_ACCOUNTS: Mapping[str, str] = {**SERVICE_ACCOUNTS, ACCOUNT_EDGE: ROLE_EDGE, ACCOUNT_OPERATOR: ROLE_MONITOR}
EXTRA_CREDENTIALS_FILE = "mosquitto-credentials.json"

CONF_FILE = "mosquitto.conf"
PASSWORD_FILE = "mosquitto.passwd"  # noqa: S105 - a file name
ACL_FILE = "mosquitto.acl"
LOG_FILE = "mosquitto.log"
SUBDIR = "mosquitto"  # under the data dir

# Where the production example expects things (`livecomments mosquitto-config --out /etc/livecomments`).
ETC_DIR = Path("/etc/livecomments")
PRODUCTION_PERSISTENCE = Path("/var/lib/livecomments/mosquitto")

# --- message sizes -----------------------------------------------------------------------
# The largest JSON a comment takes in a live/ message: 500 code points of 4-byte UTF-8 text,
# a 50-code-point name, 64-char ids, every counter at its widest and all six reaction
# kinds come to 2,704 bytes (tests/test_mosquitto.py measures it); rounded up.
EVENT_MAX_BYTES = 2816
# The most events the bridge puts in one `comments` message: bridge.outbox.unpublished_events'
# default limit (a test keeps the two equal).
BRIDGE_EVENTS_PER_MESSAGE = 1000
ENVELOPE_BYTES = 1024  # {"video_id": ..., "events"/"comments": [...], "seq": ...}
TOPIC_AND_HEADER_BYTES = 65_536 + 16  # a topic is at most 65,535 bytes; fixed header, lengths, packet id


def _round_up(value: int, unit: int) -> int:
    return math.ceil(value / unit) * unit


@dataclass(frozen=True)
class Limits:
    """Every limit the template renders, with the reasons in docs/operations.md and in the file."""

    max_payload: int  # the largest live/ message the bridge may publish
    max_packet_size: int
    max_inflight_messages: int
    max_queued_messages: int = 4000
    max_queued_bytes: int = 32 * 1024 * 1024
    max_keepalive: int = 120
    tcp_max_connections: int = 2048
    ws_max_connections: int = 16384
    autosave_interval: int = 60
    persistent_client_expiration: str = "1d"
    sys_interval: int = 10

    @classmethod
    def for_settings(cls, settings: Settings, **overrides: int | str) -> Limits:
        biggest = max(BRIDGE_EVENTS_PER_MESSAGE, settings.recent_size) * EVENT_MAX_BYTES + ENVELOPE_BYTES
        payload = _round_up(biggest, 256 * 1024)
        limits = cls(
            max_payload=payload,
            max_packet_size=payload + TOPIC_AND_HEADER_BYTES,
            # the bridge acks an ingest message after its commit and decides up to
            # bridge_batch_max of them per transaction: twice that may be in flight
            max_inflight_messages=2 * settings.bridge_batch_max,
        )
        return replace(limits, **overrides)  # type: ignore[arg-type]

    @property
    def fd_needed(self) -> int:
        """Descriptors a broker with both listeners full would hold (plus files, listeners, bridges)."""
        return self.tcp_max_connections + self.ws_max_connections + 64


# --- the template ------------------------------------------------------------------------

_GLOBAL = Template("""\
# Mosquitto 2.0 configuration for livecomments: $title.
#
# Rendered by broker/mosquitto.py; edit the template there, not this file.
$origin
# Every option is explained in docs/operations.md.

# --- security: each listener has its own authentication and access control ------------
per_listener_settings true
# Started as root, Mosquitto drops to this user, which must read the password and ACL
# files and write the persistence directory.
user $run_as

# --- latency --------------------------------------------------------------------------
# Nagle off (Mosquitto's default is on): otherwise a small message can wait ~9 ms.
set_tcp_nodelay true

# --- message size (one limit for every client and listener) ---------------------------
# Mosquitto reads a packet's length first and disconnects a client whose packet is
# larger than this. 2.0 has no per-listener or per-topic limit, and a bridged edge
# applies its own limit to what the core sends it, so the limit must fit the largest
# message the bridge publishes: an event batch of up to $batch_events events, or the retained
# `recent` snapshot ($recent_size comments), at most $event_max_bytes bytes of JSON per comment,
# plus a topic of up to 64 KiB. A smaller limit would cut the bridge off here and every
# edge off the core, again at each retry. (message_size_limit is not used: Mosquitto
# recommends max_packet_size instead, and it drops a bigger message silently, still
# PUBACKing it for MQTT 3.1.1.) The contract's 8 KiB limit on ingest/ payloads is
# enforced by the web app (HTTP 413) and by the bridge, which rejects and counts
# larger submissions.
max_packet_size $max_packet_size

# --- flow and queues (per client) -----------------------------------------------------
# Unacknowledged QoS 1/2 messages sent to one client. The bridge acknowledges an ingest
# message only after its commit and decides up to $batch_max per transaction, so it
# needs twice that in flight (Mosquitto's default, 20, would cap its batches at 20).
max_inflight_messages $max_inflight_messages
# Messages queued for one client beyond those in flight (QoS 0 ones for a connected
# client count too). Past either limit Mosquitto 2.0.11 drops messages silently.
# Nothing is lost for good: the database is the source of truth, a stuck submission is
# re-driven, and a viewer repairs a seq gap from the HTTP history.
max_queued_messages $max_queued_messages
max_queued_bytes $max_queued_bytes
# MQTT 5 clients asking for a longer keepalive are told to use this one (MQTT 3.1.1
# clients keep theirs). A dead connection is noticed within 1.5 keepalives.
max_keepalive $max_keepalive
# A persistent session (clean session off) whose client stays away this long is removed.
persistent_client_expiration $persistent_client_expiration

# --- persistence ----------------------------------------------------------------------
# Retained messages and persistent sessions (the bridge's subscription to ingest/)
# survive a restart. A snapshot is written every autosave_interval seconds and on exit;
# what happened since a crash is rebuilt by the bridge, which republishes every live
# video's retained topics whenever it reconnects.
persistence $persistence
persistence_location $persistence_location
autosave_interval $autosave_interval

# --- logs and $$SYS --------------------------------------------------------------------
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
# $$SYS/broker/... (clients, load, bridge state) every sys_interval seconds, readable
# only by the operator account.
sys_interval $sys_interval
""")

_LISTENER = Template("""
# --- $heading
${comment}listener $port$bind
${protocol}max_connections $max_connections
allow_anonymous $allow_anonymous
password_file $password_file
acl_file $acl_file
""")

_BRIDGE = Template("""
# --- bridge to the core: $live_filter flows in, nothing flows out ----------------------
# Several addresses with round_robin false: the first is the main (active) core, the
# others are tried in turn when it fails, and the main one again while on another.
connection $connection
address $addresses
round_robin false
# Client ids: the remote one names this edge on the core (and in the notification topic
# $$SYS/broker/connection/$remote_clientid/state); the local one is random and secret,
# because any client presenting a connected client's id takes its place.
remote_clientid $remote_clientid
local_clientid $local_clientid
remote_username $remote_username
remote_password $remote_password
bridge_protocol_version mqttv311
# Tell the core this is a bridge: retained messages keep their retain flag, so this
# edge holds its own copy of every retained live/ topic for joining viewers.
try_private true
# The core keeps nothing for a disconnected edge; on reconnecting it sends every
# retained topic again, and viewers repair any seq gap from the HTTP history.
cleansession $cleansession
keepalive_interval $keepalive_interval
# Reconnect delay: jitter from base to cap seconds ("restart_timeout base cap").
restart_timeout $restart_timeout
start_type automatic
# The bridge's state (1 up, 0 down), retained, on this broker only.
notifications true
notifications_local_only true
topic $live_filter in $qos
""")


@dataclass(frozen=True)
class Listener:
    port: int
    bind: str | None  # None: every interface
    websockets: bool
    max_connections: int
    allow_anonymous: bool
    password_file: Path
    acl_file: Path
    heading: str = ""


@dataclass(frozen=True)
class Bridge:
    """An edge's bridge to the core (or to an active/standby pair of cores)."""

    addresses: tuple[str, ...]  # host:port, the main core first
    remote_clientid: str
    local_clientid: str
    password: str
    username: str = ACCOUNT_EDGE
    connection: str = "core"
    qos: int = 1
    cleansession: bool = True
    keepalive_interval: int = 30
    restart_timeout: tuple[int, int] = (1, 15)


@dataclass(frozen=True)
class BrokerConfig:
    """Everything one mosquitto.conf says."""

    title: str
    origin: str
    run_as: str
    persistence: bool
    persistence_location: Path
    limits: Limits
    listeners: tuple[Listener, ...]
    topics: Topics = field(default_factory=Topics)
    recent_size: int = 50
    batch_max: int = BRIDGE_BATCH_MAX
    bridges: tuple[Bridge, ...] = ()


def render_config(config: BrokerConfig) -> str:
    limits = config.limits
    text = _GLOBAL.substitute(
        title=config.title,
        origin=config.origin,
        run_as=config.run_as,
        batch_events=BRIDGE_EVENTS_PER_MESSAGE,
        recent_size=config.recent_size,
        event_max_bytes=EVENT_MAX_BYTES,
        batch_max=config.batch_max,
        max_packet_size=limits.max_packet_size,
        max_inflight_messages=limits.max_inflight_messages,
        max_queued_messages=limits.max_queued_messages,
        max_queued_bytes=limits.max_queued_bytes,
        max_keepalive=limits.max_keepalive,
        persistent_client_expiration=limits.persistent_client_expiration,
        persistence=_bool(config.persistence),
        persistence_location=_path(config.persistence_location),
        autosave_interval=limits.autosave_interval,
        sys_interval=limits.sys_interval,
    )
    text += "".join(_render_listener(listener) for listener in config.listeners)
    text += "".join(_render_bridge(bridge, config.topics) for bridge in config.bridges)
    return text


def _render_listener(listener: Listener) -> str:
    comment = ""
    if listener.websockets:
        comment = (
            f"# Clients use the path {WS_PATH}. WARNING: Mosquitto 2.0.11's WebSocket listener\n"
            "# binds EVERY interface, whatever address follows the port, so a firewall or a\n"
            "# proxy must guard this port. (2.0.11 cannot have a WebSocket listener alone:\n"
            "# a TCP listener must exist too.)\n"
        )
    heading = listener.heading or ("MQTT over WebSocket" if listener.websockets else "MQTT over TCP")
    return _LISTENER.substitute(
        heading=f"{heading} " + "-" * max(3, 81 - len(heading)),
        comment=comment,
        port=listener.port,
        bind=f" {_token(listener.bind)}" if listener.bind else "",
        protocol="protocol websockets\n" if listener.websockets else "",
        max_connections=listener.max_connections,
        allow_anonymous=_bool(listener.allow_anonymous),
        password_file=_path(listener.password_file),
        acl_file=_path(listener.acl_file),
    )


def _render_bridge(bridge: Bridge, topics: Topics) -> str:
    if not bridge.addresses:
        raise ConfigError("a bridge needs at least one core address")
    base, cap = bridge.restart_timeout
    return _BRIDGE.substitute(
        connection=_token(bridge.connection),
        addresses=" ".join(_token(a) for a in bridge.addresses),
        remote_clientid=_token(bridge.remote_clientid),
        local_clientid=_token(bridge.local_clientid),
        remote_username=_token(bridge.username),
        remote_password=_token(bridge.password),
        cleansession=_bool(bridge.cleansession),
        keepalive_interval=bridge.keepalive_interval,
        restart_timeout=f"{base} {cap}",
        live_filter=_token(topics.live_filter),
        qos=bridge.qos,
    )


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _token(value: str) -> str:
    """A value that must stay one word on one line of the file."""
    if not value or any(c.isspace() for c in value) or "\0" in value:
        raise ConfigError(f"{value!r} cannot go into a Mosquitto file: it must be one word")
    return value


def _path(path: Path) -> str:
    text = str(path)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ConfigError(f"path {text!r} cannot go into a Mosquitto file")
    return text


# --- the ACL file --------------------------------------------------------------------------

Access = Literal["read", "write", "readwrite"]

_ROLE_NOTES: Mapping[str | None, str] = {
    None: "Anonymous clients (viewers, display boards): read the live tree, nothing else.",
    ROLE_BRIDGE: "The bridge service: the single writer of the live tree, the reader of ingest.",
    ROLE_SERVICE: "Services (the web app): write ingest, read the live tree.",
    ROLE_EDGE: "Edge brokers' bridges to the core: read the live tree.",
    ROLE_MONITOR: "Operators' monitoring (livecomments cluster status): read the broker's $SYS tree.",
}


def grants(role: str | None, topics: Topics) -> list[tuple[Access, str]]:
    """(access, topic filter) lines for a role: from `broker.acl` for its roles, fixed for Mosquitto's own."""
    if role == ROLE_EDGE:
        return [("read", topics.live_filter)]
    if role == ROLE_MONITOR:
        return [("read", "$SYS/#")]
    lines: list[tuple[Access, str]] = []
    for prefix in (topics.live_prefix, topics.ingest_prefix):
        sample = f"{prefix}videos/v1/comments"
        subscribe = acl.is_allowed(role, acl.SUBSCRIBE, f"{prefix}#", topics)
        receive = acl.is_allowed(role, acl.RECEIVE, sample, topics)
        if subscribe != receive:
            raise AssertionError(f"broker.acl lets role {role!r} subscribe or receive {prefix}, not both")
        write = acl.is_allowed(role, acl.PUBLISH, sample, topics)
        access: Access | None = "readwrite" if receive and write else "read" if receive else "write" if write else None
        if access is not None:
            lines.append((access, f"{prefix}#"))
    return lines


def render_acl(topics: Topics, accounts: Sequence[str] = tuple(BROKER_ACCOUNTS)) -> str:
    """The ACL file: anonymous grants first (Mosquitto applies lines before any `user` to anonymous clients)."""
    out = [
        "# Mosquitto ACL for livecomments, rendered by broker/mosquitto.py from the rules in",
        "# broker/acl.py: do not edit. Mosquitto denies every topic not granted here.",
        "# There are no `pattern` lines: they apply to every client and substitute its client",
        "# id or username into topics, so no client id or username can change what a client",
        "# may do. An unknown username, or one without its password, is refused at CONNECT.",
        "",
    ]
    for role, account in [(None, None), *((BROKER_ACCOUNTS[a], a) for a in accounts)]:
        out.append(f"# {_ROLE_NOTES[role]}")
        if account is not None:
            out.append(f"user {_token(account)}")
        out += [f"topic {access} {_token(topic)}" for access, topic in grants(role, topics)]
        out.append("")
    return "\n".join(out)


# --- passwords -------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def broker_passwords(data_dir: Path) -> dict[str, str]:
    """Every broker account's password: the services' from the data dir's credentials, the
    Mosquitto-only accounts' from their own file (both generated once, never committed)."""
    passwords = dict(ensure_credentials(data_dir).passwords)
    path = data_dir / EXTRA_CREDENTIALS_FILE
    extra: dict[str, str] = json.loads(path.read_text())["passwords"] if path.exists() else {}
    missing = [a for a in BROKER_ACCOUNTS if a not in passwords and a not in extra]
    if missing:
        extra.update({account: secrets.token_urlsafe(24) for account in missing})
        _write_private(path, json.dumps({"passwords": extra}, indent=2))
    return {account: passwords.get(account) or extra[account] for account in BROKER_ACCOUNTS}


def mosquitto_executable(name: str = "mosquitto") -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (Debian: apt-get install mosquitto mosquitto-clients)")
    return found


def write_password_file(path: Path, passwords: Mapping[str, str]) -> None:
    """A Mosquitto password file of hashed passwords (`mosquitto_passwd -U` on a private plaintext file)."""
    plain = path.with_name(path.name + ".plain")
    lines = []
    for account, password in passwords.items():
        if ":" in account or any(c.isspace() for c in account + password):
            raise ConfigError(f"account {account!r} or its password cannot go into a Mosquitto password file")
        lines.append(f"{account}:{password}\n")
    try:
        _write_private(plain, "".join(lines))
        subprocess.run(  # noqa: S603 - a fixed executable on a file we just wrote
            [mosquitto_executable("mosquitto_passwd"), "-U", str(plain)],
            check=True, capture_output=True, timeout=30,
        )
        os.replace(plain, path)
    finally:
        plain.unlink(missing_ok=True)


# --- files for a data dir ------------------------------------------------------------------


@dataclass(frozen=True)
class MosquittoFiles:
    directory: Path
    conf: Path
    passwd: Path
    acl: Path
    log: Path
    persistence: Path

    @classmethod
    def under(cls, directory: Path) -> MosquittoFiles:
        directory = directory.resolve()
        return cls(
            directory, directory / CONF_FILE, directory / PASSWORD_FILE, directory / ACL_FILE,
            directory / LOG_FILE, directory / "db",
        )


def current_user() -> str:
    """The user Mosquitto should run as to read what we write: ourselves."""
    return pwd.getpwuid(os.geteuid()).pw_name


def single_broker_config(
    settings: Settings,
    files: MosquittoFiles,
    *,
    title: str = "one broker",
    origin: str = "",
    run_as: str | None = None,
    bind: str | None = None,
    persistence_location: Path | None = None,
    limits: Limits | None = None,
) -> BrokerConfig:
    """TCP and WebSocket listeners, both with the password and ACL files, anonymous read-only."""
    limits = limits or Limits.for_settings(settings)
    return BrokerConfig(
        title=title,
        origin=origin,
        run_as=run_as or current_user(),
        persistence=True,
        persistence_location=persistence_location or files.persistence,
        limits=limits,
        listeners=(
            Listener(settings.mqtt_port, bind, False, limits.tcp_max_connections, True, files.passwd, files.acl,
                     heading="MQTT over TCP: services (web app, bridge), display boards, operators"),
            Listener(settings.ws_port, bind, True, limits.ws_max_connections, True, files.passwd, files.acl,
                     heading="MQTT over WebSocket: browsers"),
        ),
        topics=settings.topics,
        recent_size=settings.recent_size,
        batch_max=settings.bridge_batch_max,
    )


def render_production_example() -> str:
    """The repository's root mosquitto.conf: default Settings, files where /etc/livecomments keeps them."""
    settings = Settings()
    etc = MosquittoFiles(ETC_DIR, ETC_DIR / CONF_FILE, ETC_DIR / PASSWORD_FILE, ETC_DIR / ACL_FILE,
                         Path("/var/log/livecomments/mosquitto.log"), PRODUCTION_PERSISTENCE)
    origin = (
        "# This is the production example: `livecomments mosquitto-config --example` prints it.\n"
        "# `livecomments mosquitto-config --data-dir D --out /etc/livecomments` writes the ACL\n"
        "# file and the password file it names (hashed passwords generated into the data dir,\n"
        "# never committed), and a copy of this file with the data dir's ports and paths."
    )
    return render_config(single_broker_config(
        settings, etc, title="one production broker", origin=origin, run_as="mosquitto",
    ))


def write_files(settings: Settings, out_dir: Path | None = None, *, bind: str | None = None) -> MosquittoFiles:
    """The config, password and ACL files of the data dir's broker (in `out_dir`, default <data dir>/mosquitto)."""
    files = MosquittoFiles.under(out_dir or settings.data_dir / SUBDIR)
    files.directory.mkdir(parents=True, exist_ok=True)
    files.persistence.mkdir(parents=True, exist_ok=True)
    origin = f"# Written for the data dir {settings.data_dir.resolve()} by `livecomments mosquitto-config`."
    config = single_broker_config(settings, files, origin=origin, bind=bind or settings.host)
    write_password_file(files.passwd, broker_passwords(settings.data_dir))
    _write_private(files.acl, render_acl(settings.topics))
    _write_private(files.conf, render_config(config))
    return files


# --- the file-descriptor limit ------------------------------------------------------------

_FD_CAP = 1 << 20
_fd_logged: int | None = None  # the limit last logged (once per process at INFO)


def raise_fd_limit(needed: int = 0) -> int:
    """Raise this process's (and so its children's) RLIMIT_NOFILE soft limit to the hard limit; log it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _FD_CAP if hard == resource.RLIM_INFINITY else min(hard, _FD_CAP)
    if soft == resource.RLIM_INFINITY or soft >= target:
        target = soft
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the file-descriptor limit from %d to %d: %s", soft, target, exc)
            target = soft
    global _fd_logged
    log.log(logging.DEBUG if _fd_logged == target else logging.INFO,
            "file-descriptor limit: %s (hard limit %s)", _limit(target), _limit(hard))
    _fd_logged = target
    if needed and target != resource.RLIM_INFINITY and target < needed:
        log.warning(
            "the file-descriptor limit %d is below the %d that full listeners need: Mosquitto will refuse "
            "connections near %d. Raise the hard limit (systemd LimitNOFILE=, limits.conf nofile).",
            target, needed, target - 64,
        )
    return int(target)


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


# --- the supervisor ---------------------------------------------------------------------------


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
    `stop()` ends it with SIGTERM (SIGKILL after `policy.stop_timeout_s`). The child
    gets SIGTERM if the supervising thread's process dies without stopping it.
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
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
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
        recent: collections.deque[float] = collections.deque()
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
                now = time.monotonic()
                recent.append(now)
                while recent and now - recent[0] > self.policy.window_s:
                    recent.popleft()
                if len(recent) > self.policy.max_restarts:
                    log.error("%s died %d times within %g s; giving up. Its log ends:\n%s",
                              self.name, len(recent), self.policy.window_s, self.log_tail())
                    self.gave_up.set()
                    return
                delay = self.policy.delay(len(recent))
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


class MosquittoProcess(SupervisedBroker):
    """The data dir's single Mosquitto broker: TCP on settings.mqtt_port, WebSocket on
    settings.ws_port, with files generated by `write_files` when it starts."""

    def __init__(self, settings: Settings, *, policy: RestartPolicy | None = None) -> None:
        self.settings = settings
        self.files = MosquittoFiles.under(settings.data_dir / SUBDIR)
        super().__init__(
            "mosquitto",
            self.files.conf,
            [(settings.host, settings.mqtt_port), (settings.host, settings.ws_port)],
            self.files.log,
            policy=policy,
            prepare=self._write,
            fd_needed=Limits.for_settings(settings).fd_needed,
        )

    def _write(self) -> None:
        write_files(self.settings)
        if self.settings.host not in ("0.0.0.0", "", "::"):  # noqa: S104
            log.warning("Mosquitto 2.0.11's WebSocket listener (port %d) binds every interface, not only %s",
                        self.settings.ws_port, self.settings.host)

    def listening_lines(self) -> list[str]:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return [
            f"MQTT (TCP) listening on mqtt://{host}:{self.settings.mqtt_port}",
            f"MQTT over WebSocket listening on ws://{host}:{self.settings.ws_port}{WS_PATH}",
        ]


# --- `livecomments mosquitto-config` ---------------------------------------------------------


def add_config_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mosquitto-config",
        help="write mosquitto.conf, the password file and the ACL file for the data dir's broker",
        description="Writes <out>/mosquitto.conf, mosquitto.passwd (hashed) and mosquitto.acl for a "
        "Mosquitto broker serving the data dir's services; run it with `mosquitto -c <out>/mosquitto.conf`.",
    )
    p.add_argument("--data-dir", type=Path, help="where the generated credentials live (LIVECOMMENTS_DATA_DIR)")
    p.add_argument("--host", help="listen address (LIVECOMMENTS_HOST); the WebSocket listener binds every interface")
    p.add_argument("--mqtt-port", type=int, help="MQTT TCP port (LIVECOMMENTS_MQTT_PORT, default 1883)")
    p.add_argument("--ws-port", type=int, help="MQTT-over-WebSocket port (LIVECOMMENTS_WS_PORT, default 8083)")
    p.add_argument("--out", type=Path, help="directory for the files (default <data dir>/mosquitto)")
    p.add_argument("--example", action="store_true", help="print the production example (the root mosquitto.conf)")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(handler=config_command)


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.example:
        sys.stdout.write(render_production_example())
        return 0
    try:
        files = write_files(settings, args.out)
    except (FileNotFoundError, subprocess.CalledProcessError, ConfigError) as exc:
        print(f"livecomments mosquitto-config: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {files.conf}\n      {files.passwd}\n      {files.acl}")
    print(f"run:  mosquitto -c {files.conf}")
    print(f"services (bridge, web) use the data dir {settings.data_dir.resolve()} for their passwords and "
          f"LIVECOMMENTS_MQTT_URL=mqtt://{settings.host}:{settings.mqtt_port}")
    return 0
