"""Brokers for many viewers: one core Mosquitto (or an active/standby pair) and N edges.

Mosquitto has no clustering; it scales out by bridging. The core carries `ingest/`, the
bridge service and the web app; each edge bridges the live tree in from the core and
holds viewers' connections (TCP and WebSocket). Edges are stateless copies, so a viewer
can fail over from one to another (docs/operations.md has the picture and every knob).

- `local_plan` places a whole topology on one machine (distinct ports, files under one
  directory): `livecomments cluster run` generates it and supervises every broker.
- `deployment_plan` writes one directory per machine, with the paths the production
  example uses (/etc/livecomments, /var/lib/livecomments): `livecomments cluster generate`.
- `status` reads `$SYS/#` from every broker as the operator account:
  `livecomments cluster status`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import (
    ACCOUNT_EDGE,
    ACCOUNT_OPERATOR,
    ACL_FILE,
    BROKER_ACCOUNTS,
    CONF_FILE,
    ETC_DIR,
    LOG_FILE,
    PASSWORD_FILE,
    PRODUCTION_PERSISTENCE,
    WS_PATH,
    Bridge,
    BrokerConfig,
    Limits,
    Listener,
    MosquittoStartError,
    RestartPolicy,
    SupervisedBroker,
    _write_private,
    broker_passwords,
    current_user,
    render_acl,
    render_config,
    write_password_file,
)
from infra import ports
from livecomments.config import ConfigError, Settings

log = logging.getLogger(__name__)

TOPOLOGY_FILE = "cluster.json"
Role = Literal["core", "edge"]


@dataclass(frozen=True)
class Node:
    """One broker: where it listens (and is reached), and where its files are."""

    name: str  # core, core-standby, edge-1, ...
    role: Role
    host: str  # the address clients use; also the listen address on one machine
    mqtt_port: int
    ws_port: int | None = None  # edges only
    bind: str | None = None  # listen address written into the config (None: every interface)

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{_url_host(self.host)}:{self.mqtt_port}"

    @property
    def ws_url(self) -> str | None:
        return f"ws://{_url_host(self.host)}:{self.ws_port}{WS_PATH}" if self.ws_port else None

    @property
    def remote_clientid(self) -> str:
        """How an edge's bridge is named on the core (and in its $SYS notification topic)."""
        return f"livecomments-{self.name}"


@dataclass(frozen=True)
class Knobs:
    """What operators tune (docs/operations.md explains each)."""

    bridge_qos: int = 1
    cleansession: bool = True
    bridge_keepalive: int = 30
    restart_timeout: tuple[int, int] = (1, 15)
    max_queued_messages: int | None = None
    max_queued_bytes: int | None = None
    max_keepalive: int | None = None
    tcp_max_connections: int | None = None
    ws_max_connections: int | None = None
    sys_interval: int | None = None

    def __post_init__(self) -> None:
        if self.bridge_qos not in (0, 1, 2):
            raise ConfigError("the bridge QoS is 0, 1 or 2")
        base, cap = self.restart_timeout
        if not 1 <= base <= cap:
            raise ConfigError("restart_timeout needs 1 <= base <= cap")
        if self.bridge_keepalive < 5:
            raise ConfigError("Mosquitto's bridge keepalive is at least 5 s")

    def limits(self, settings: Settings) -> Limits:
        overrides = {
            name: value
            for name in ("max_queued_messages", "max_queued_bytes", "max_keepalive", "tcp_max_connections",
                         "ws_max_connections", "sys_interval")
            if (value := getattr(self, name)) is not None
        }
        return Limits.for_settings(settings, **overrides)


@dataclass(frozen=True)
class Plan:
    """A topology and where its files go: written under `out`, naming paths as seen from `files_root`."""

    cores: tuple[Node, ...]
    edges: tuple[Node, ...]
    out: Path
    knobs: Knobs = field(default_factory=Knobs)
    deployed: bool = False  # True: one directory per machine, naming /etc/livecomments paths
    core_addresses: tuple[str, ...] = ()  # what edges dial, main core first

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.cores + self.edges

    def node_dir(self, node: Node) -> Path:
        return self.out / node.name

    def conf_dir(self, node: Node) -> Path:
        """Where the node's password and ACL files are when the broker runs."""
        return ETC_DIR if self.deployed else self.node_dir(node).resolve()

    def persistence_dir(self, node: Node) -> Path:
        return PRODUCTION_PERSISTENCE if self.deployed else self.node_dir(node).resolve() / "db"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _core_names(standby: bool) -> list[str]:
    return ["core", "core-standby"] if standby else ["core"]


def local_plan(
    settings: Settings, out: Path, edges: int, *, standby: bool = False, base_port: int = 0,
    knobs: Knobs | None = None,
) -> Plan:
    """Every broker on this machine at settings.host: the cores on base_port (+1), edge i on
    base_port + 100 + i (TCP) and base_port + 200 + i (WebSocket); base_port 0: free ports."""
    if not 1 <= edges <= 99:
        raise ConfigError("between 1 and 99 edges on one machine")
    host = settings.host
    taken: set[int] = set()

    def port(offset: int) -> int:
        chosen = base_port + offset if base_port else 0
        while chosen == 0 or chosen in taken or not ports.is_free(host, chosen):
            chosen = ports.free_port(host)
        taken.add(chosen)
        return chosen

    cores = tuple(Node(name, "core", host, port(i), bind=host) for i, name in enumerate(_core_names(standby)))
    nodes = tuple(Node(f"edge-{i}", "edge", host, port(100 + i), port(200 + i), bind=host) for i in range(1, edges + 1))
    addresses = tuple(f"{_url_host(c.host)}:{c.mqtt_port}" for c in cores)
    return Plan(cores, nodes, out, knobs or Knobs(), deployed=False, core_addresses=addresses)


def deployment_plan(
    settings: Settings, out: Path, edges: int, *, standby: bool = False, core_addresses: Sequence[str] = (),
    edge_hosts: Sequence[str] = (), knobs: Knobs | None = None,
) -> Plan:
    """One broker per machine, each on the standard ports (settings.mqtt_port, settings.ws_port)
    on every interface; edges dial `core_addresses` (default core:<mqtt port>, core-standby:<…>)."""
    if edges < 1:
        raise ConfigError("at least one edge")
    names = _core_names(standby)
    addresses = tuple(core_addresses) or tuple(f"{n}:{settings.mqtt_port}" for n in names)
    if len(addresses) < len(names):
        raise ConfigError(f"name {len(names)} core addresses (--core), the main one first")
    cores = tuple(_node_at(name, addr, settings.mqtt_port) for name, addr in zip(names, addresses, strict=False))
    hosts = list(edge_hosts) or [f"edge-{i}" for i in range(1, edges + 1)]
    if len(hosts) != edges:
        raise ConfigError(f"{edges} edges but {len(hosts)} edge hosts")
    nodes = tuple(Node(f"edge-{i}", "edge", h, settings.mqtt_port, settings.ws_port) for i, h in enumerate(hosts, 1))
    return Plan(cores, nodes, out, knobs or Knobs(), deployed=True, core_addresses=addresses)


def _node_at(name: str, address: str, default_port: int) -> Node:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "]" in port:
        host, port = address, str(default_port)
    return Node(name, "core", host.strip("[]"), int(port))


# --- generation ----------------------------------------------------------------------------


def node_config(plan: Plan, node: Node, settings: Settings, passwords: Mapping[str, str]) -> BrokerConfig:
    limits = plan.knobs.limits(settings)
    conf_dir = plan.conf_dir(node)
    passwd, acl_file = conf_dir / PASSWORD_FILE, conf_dir / ACL_FILE
    run_as = "mosquitto" if plan.deployed else current_user()
    if node.role == "core":
        listeners: tuple[Listener, ...] = (
            Listener(node.mqtt_port, node.bind, False, limits.tcp_max_connections, False, passwd, acl_file,
                     heading="MQTT over TCP: services and edge bridges only, no anonymous clients"),
        )
        bridges: tuple[Bridge, ...] = ()
        title = f"the core broker {node.name!r}"
    else:
        assert node.ws_port is not None
        listeners = (
            Listener(node.mqtt_port, node.bind, False, limits.tcp_max_connections, True, passwd, acl_file,
                     heading="MQTT over TCP: display boards, viewers' apps, operators"),
            Listener(node.ws_port, node.bind, True, limits.ws_max_connections, True, passwd, acl_file,
                     heading="MQTT over WebSocket: browsers"),
        )
        knobs = plan.knobs
        bridges = (Bridge(
            addresses=plan.core_addresses,
            remote_clientid=node.remote_clientid,
            local_clientid=f"{node.remote_clientid}.local-{secrets.token_hex(8)}",
            password=passwords[ACCOUNT_EDGE],
            qos=knobs.bridge_qos,
            cleansession=knobs.cleansession,
            keepalive_interval=knobs.bridge_keepalive,
            restart_timeout=knobs.restart_timeout,
        ),)
        title = f"the edge broker {node.name!r}"
    where = "one directory per machine, copy it to /etc/livecomments" if plan.deployed else "all on one machine"
    return BrokerConfig(
        title=title,
        origin=f"# Written by `livecomments cluster` ({where}).",
        run_as=run_as,
        persistence=node.role == "core",  # edges are stateless copies: the core resends retained topics
        persistence_location=plan.persistence_dir(node),
        limits=limits,
        listeners=listeners,
        topics=settings.topics,
        recent_size=settings.recent_size,
        batch_max=settings.bridge_batch_max,
        bridges=bridges,
    )


def accounts_of(node: Node) -> list[str]:
    """The core knows every account; an edge only the operator (services never connect to edges)."""
    return list(BROKER_ACCOUNTS) if node.role == "core" else [ACCOUNT_OPERATOR]


def generate(plan: Plan, settings: Settings) -> Path:
    """Write every broker's config, password and ACL files, and the topology (cluster.json); return `plan.out`."""
    passwords = broker_passwords(settings.data_dir)
    plan.out.mkdir(parents=True, exist_ok=True)
    for node in plan.nodes:
        directory = plan.node_dir(node)
        directory.mkdir(parents=True, exist_ok=True)
        if not plan.deployed and node.role == "core":
            plan.persistence_dir(node).mkdir(parents=True, exist_ok=True)
        # the edge's file holds the bridge-edge password: private, like the password files
        _write_private(directory / CONF_FILE, render_config(node_config(plan, node, settings, passwords)))
        _write_private(directory / ACL_FILE, render_acl(settings.topics, accounts_of(node)))
        write_password_file(directory / PASSWORD_FILE, {a: passwords[a] for a in accounts_of(node)})
    core = plan.cores[0]
    for account in ("bridge", "webapp"):  # what the services need, for deployments
        url = f"mqtt://{account}:{passwords[account]}@{_url_host(core.host)}:{core.mqtt_port}"
        _write_private(plan.out / f"{account}.env", f"LIVECOMMENTS_MQTT_URL={url}\n")
    topology = {
        "deployed": plan.deployed,
        "core_addresses": list(plan.core_addresses),
        "knobs": asdict(plan.knobs),
        "nodes": [asdict(n) for n in plan.nodes],
    }
    (plan.out / TOPOLOGY_FILE).write_text(json.dumps(topology, indent=2) + "\n")
    return plan.out


def load_nodes(directory: Path) -> list[Node]:
    doc = json.loads((directory / TOPOLOGY_FILE).read_text())
    return [Node(**n) for n in doc["nodes"]]


# --- running on one machine ------------------------------------------------------------------


class Cluster:
    """Every broker of a local plan, supervised: cores start first and stop last."""

    def __init__(self, plan: Plan, settings: Settings, policy: RestartPolicy | None = None) -> None:
        if plan.deployed:
            raise ConfigError("a deployment plan runs on several machines, not here")
        self.plan = plan
        self.settings = settings
        self.policy = policy
        self.brokers: dict[str, SupervisedBroker] = {}

    def start(self) -> None:
        generate(self.plan, self.settings)
        try:
            for node in self.plan.nodes:
                broker = SupervisedBroker(
                    node.name, self.plan.node_dir(node).resolve() / CONF_FILE, _endpoints(node),
                    self.plan.node_dir(node).resolve() / LOG_FILE, policy=self.policy,
                    fd_needed=self.plan.knobs.limits(self.settings).fd_needed,
                )
                broker.start()
                self.brokers[node.name] = broker
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(list(self.brokers)):
            self.brokers[name].stop()

    def failed(self) -> list[str]:
        return [name for name, b in self.brokers.items() if b.gave_up.is_set()]

    def wait_bridged(self, timeout: float = 20.0) -> bool:
        """Until every edge reports its bridge up ($SYS/broker/connection/<id>/state = 1)."""
        deadline = time.monotonic() + timeout
        password = broker_passwords(self.settings.data_dir)[ACCOUNT_OPERATOR]
        while time.monotonic() < deadline:
            found = status(self.plan.edges, password, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if all(s.reachable and s.bridges and all(s.bridges.values()) for s in found):
                return True
            time.sleep(0.1)
        return False

    def lines(self) -> list[str]:
        out = []
        for node in self.plan.cores:
            out.append(f"core     {node.name:<14} {node.mqtt_url}   (services: LIVECOMMENTS_MQTT_URL={node.mqtt_url})")
        for node in self.plan.edges:
            out.append(f"edge     {node.name:<14} {node.ws_url}   {node.mqtt_url}")
        return out


def _endpoints(node: Node) -> list[tuple[str, int]]:
    host = node.bind or "127.0.0.1"
    found = [(host, node.mqtt_port)]
    if node.ws_port:
        found.append((host, node.ws_port))
    return found


# --- status from $SYS --------------------------------------------------------------------------

_SYS = "$SYS/broker/"


@dataclass
class NodeStatus:
    node: Node
    reachable: bool = False
    error: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def bridges(self) -> dict[str, bool]:
        prefix, suffix = _SYS + "connection/", "/state"
        return {
            topic[len(prefix):-len(suffix)]: value.strip() == "1"
            for topic, value in self.values.items()
            if topic.startswith(prefix) and topic.endswith(suffix)
        }

    def value(self, name: str) -> str:
        return self.values.get(_SYS + name, "-")


def read_sys(node: Node, password: str, timeout: float = 2.0) -> NodeStatus:
    """Everything a broker retains under $SYS/#, read as the operator account."""
    result = NodeStatus(node)
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"livecomments-status-{secrets.token_hex(4)}",
                         protocol=paho.MQTTv311)
    client.username_pw_set(ACCOUNT_OPERATOR, password)

    def on_connect(c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            result.error = f"refused: {rc}"
            done.set()
        else:
            c.subscribe("$SYS/#", 0)

    def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        result.values[msg.topic] = msg.payload.decode(errors="replace")
        if (_SYS + "clients/connected") in result.values and (_SYS + "uptime") in result.values:
            result.reachable = True

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(node.host, node.mqtt_port, keepalive=10)
    except OSError as exc:
        result.error = str(exc)
        return result
    client.loop_start()
    try:
        # retained $SYS values arrive at once; give the rest of the burst a moment
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done.is_set() and not result.reachable:
            time.sleep(0.02)
        if result.reachable:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    finally:
        client.disconnect()
        client.loop_stop()
    if not result.reachable and result.error is None:
        result.error = "no $SYS data (is sys_interval 0?)"
    return result


def status(nodes: Sequence[Node], password: str, timeout: float = 2.0) -> list[NodeStatus]:
    found: list[NodeStatus | None] = [None] * len(nodes)

    def one(i: int) -> None:
        found[i] = read_sys(nodes[i], password, timeout)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    return [s if s is not None else NodeStatus(n, error="no answer") for s, n in zip(found, nodes, strict=True)]


def format_status(rows: Sequence[NodeStatus]) -> str:
    header = (f"{'broker':<14} {'role':<5} {'address':<22} {'clients':>7} {'msgs in/min':>11} "
              f"{'msgs out/min':>12} {'pub out/min':>11}  bridges")
    lines = [header]
    for row in rows:
        address = f"{row.node.host}:{row.node.mqtt_port}"
        if not row.reachable:
            lines.append(f"{row.node.name:<14} {row.node.role:<5} {address:<22} unreachable: {row.error}")
            continue
        bridges = ", ".join(f"{name}={'up' if up else 'DOWN'}" for name, up in sorted(row.bridges.items())) or "-"
        lines.append(
            f"{row.node.name:<14} {row.node.role:<5} {address:<22} {row.value('clients/connected'):>7} "
            f"{row.value('load/messages/received/1min'):>11} {row.value('load/messages/sent/1min'):>12} "
            f"{row.value('load/publish/sent/1min'):>11}  {bridges}"
        )
    return "\n".join(lines)


# --- `livecomments cluster ...` -------------------------------------------------------------------


def add_cluster_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = sub.add_parser("cluster", help="generate, run and watch a core + edges Mosquitto topology")
    verbs = cluster.add_subparsers(dest="verb", required=True)

    gen = verbs.add_parser("generate", help="write one directory per broker for a deployment on several machines")
    gen.add_argument("--out", type=Path, required=True, help="where to write the directories")
    gen.add_argument("--core", action="append", default=[], metavar="HOST:PORT",
                     help="address the edges dial for the core; repeat for a standby (main first)")
    gen.add_argument("--edge-host", action="append", default=[], metavar="HOST",
                     help="each edge's address, for `cluster status` (default edge-1, edge-2, ...)")
    gen.add_argument("--mqtt-port", type=int, help="every broker's MQTT TCP port (default 1883)")
    gen.add_argument("--ws-port", type=int, help="the edges' WebSocket port (default 8083)")

    run = verbs.add_parser("run", help="run a whole topology on this machine, supervised, until SIGTERM")
    run.add_argument("--host", help="listen address (default 127.0.0.1); WebSocket listeners bind every interface")
    run.add_argument("--base-port", type=int, default=18800,
                     help="cores on BASE (+1), edge i on BASE+100+i (TCP) and BASE+200+i (WebSocket); "
                     "a taken port is swapped for a free one; 0: free ports only")
    run.add_argument("--out", type=Path, help="where the files go (default <data dir>/cluster)")

    for p in (gen, run):
        p.add_argument("--edges", type=int, default=2, help="how many edge brokers (default 2)")
        p.add_argument("--standby", action="store_true", help="an active/standby pair of cores")
        p.add_argument("--data-dir", type=Path, help="where the generated credentials live (LIVECOMMENTS_DATA_DIR)")
        p.add_argument("--bridge-qos", type=int, default=1, choices=(0, 1, 2), help="edge bridges' QoS (default 1)")
        p.add_argument("--bridge-keepalive", type=int, default=30, help="edge bridges' keepalive, s (default 30)")
        p.add_argument("--restart-timeout", default="1,15", metavar="BASE,CAP",
                       help="edge bridges' reconnect delay, jittered from BASE to CAP s (default 1,15)")
        p.add_argument("--persistent-bridge", action="store_true",
                       help="cleansession false: the core queues live/ for a disconnected edge")
        for name, helptext in (
            ("max-queued-messages", "per-client queue, messages (default 4000)"),
            ("max-queued-bytes", "per-client queue, bytes (default 32 MiB)"),
            ("max-keepalive", "longest keepalive MQTT 5 clients may use, s (default 120)"),
            ("tcp-max-connections", "per broker, TCP listener (default 2048)"),
            ("ws-max-connections", "per edge, WebSocket listener (default 16384)"),
            ("sys-interval", "seconds between $SYS updates (default 10)"),
        ):
            p.add_argument(f"--{name}", type=int, help=helptext)
        p.add_argument("--log-level", default="INFO")
        p.set_defaults(handler=cluster_command)

    st = verbs.add_parser("status", help="connections, message rates and bridge state of every broker, from $SYS")
    st.add_argument("--dir", type=Path, help="the generated directory with cluster.json (default <data dir>/cluster)")
    st.add_argument("--data-dir", type=Path, help="where the operator password lives (LIVECOMMENTS_DATA_DIR)")
    st.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each broker")
    st.add_argument("--log-level", default="WARNING")
    st.set_defaults(handler=cluster_command)


def _knobs(args: argparse.Namespace) -> Knobs:
    try:
        base, cap = (int(x) for x in str(args.restart_timeout).split(","))
    except ValueError as exc:
        raise ConfigError("--restart-timeout is BASE,CAP in seconds, e.g. 1,15") from exc
    return Knobs(
        bridge_qos=args.bridge_qos, cleansession=not args.persistent_bridge, bridge_keepalive=args.bridge_keepalive,
        restart_timeout=(base, cap), max_queued_messages=args.max_queued_messages,
        max_queued_bytes=args.max_queued_bytes, max_keepalive=args.max_keepalive,
        tcp_max_connections=args.tcp_max_connections, ws_max_connections=args.ws_max_connections,
        sys_interval=args.sys_interval,
    )


def cluster_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.verb == "status":
            return _status_command(args, settings)
        knobs = _knobs(args)
        if args.verb == "generate":
            plan = deployment_plan(settings, args.out, args.edges, standby=args.standby,
                                   core_addresses=args.core, edge_hosts=args.edge_host, knobs=knobs)
            generate(plan, settings)
            print(f"wrote {len(plan.nodes)} brokers under {plan.out}: "
                  + ", ".join(n.name for n in plan.nodes))
            print("copy each directory's files to /etc/livecomments/ on its machine and run "
                  "`mosquitto -c /etc/livecomments/mosquitto.conf`;")
            print(f"services get LIVECOMMENTS_MQTT_URL from {plan.out}/bridge.env and webapp.env (secret)")
            return 0
        return _run_command(args, settings, knobs)
    except (ConfigError, MosquittoStartError, FileNotFoundError) as exc:
        print(f"livecomments cluster {args.verb}: {exc}", file=sys.stderr, flush=True)
        return 1


def _run_command(args: argparse.Namespace, settings: Settings, knobs: Knobs) -> int:
    from wiring.cli import _stop_event

    stop = _stop_event()
    out = args.out or settings.data_dir / "cluster"
    plan = local_plan(settings, out, args.edges, standby=args.standby, base_port=args.base_port, knobs=knobs)
    cluster = Cluster(plan, settings)
    cluster.start()
    try:
        print(f"livecomments cluster is up: {len(plan.cores)} core(s), {len(plan.edges)} edge(s), files in {out}")
        for line in cluster.lines():
            print("  " + line)
        print(f"  status: livecomments cluster status --data-dir {settings.data_dir}", flush=True)
        while not stop.wait(1.0):
            if cluster.failed():
                print(f"livecomments cluster run: gave up on {', '.join(cluster.failed())}", file=sys.stderr,
                      flush=True)
                return 1
    finally:
        cluster.stop()
    return 0


def _status_command(args: argparse.Namespace, settings: Settings) -> int:
    directory = args.dir or settings.data_dir / "cluster"
    try:
        nodes = load_nodes(directory)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"livecomments cluster status: no topology in {directory}: {exc}", file=sys.stderr)
        return 1
    password = os.environ.get("LIVECOMMENTS_OPERATOR_PASSWORD") or broker_passwords(settings.data_dir)[
        ACCOUNT_OPERATOR]
    rows = status(nodes, password, args.timeout)
    print(format_status(rows), flush=True)
    return 0 if all(r.reachable for r in rows) else 1


__all__ = [
    "Cluster", "Knobs", "Node", "NodeStatus", "Plan", "deployment_plan", "format_status", "generate",
    "load_nodes", "local_plan", "read_sys", "status",
]
