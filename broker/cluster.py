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

import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto.accounts import ACCOUNT_EDGE, ACCOUNT_OPERATOR, BROKER_ACCOUNTS
from broker.mosquitto.acl_file import render_acl
from broker.mosquitto.conf import WS_PATH, BrokerConfig, CoreLink, Listener, render_config
from broker.mosquitto.host import current_user, write_private
from broker.mosquitto.layout import ACL_FILE, CONF_FILE, ETC_DIR, LOG_FILE, PASSWORD_FILE, PRODUCTION_PERSISTENCE
from broker.mosquitto.passwd import broker_passwords, write_password_file
from broker.mosquitto.sizing import Limits
from broker.mosquitto.supervisor import RestartPolicy, SupervisedBroker
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
        core_links: tuple[CoreLink, ...] = ()
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
        core_links = (CoreLink(
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
        core_links=core_links,
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
        write_private(directory / CONF_FILE, render_config(node_config(plan, node, settings, passwords)))
        write_private(directory / ACL_FILE, render_acl(settings.topics, accounts_of(node)))
        write_password_file(directory / PASSWORD_FILE, {a: passwords[a] for a in accounts_of(node)})
    core = plan.cores[0]
    for account in ("bridge", "webapp"):  # what the services need, for deployments
        url = f"mqtt://{account}:{passwords[account]}@{_url_host(core.host)}:{core.mqtt_port}"
        write_private(plan.out / f"{account}.env", f"LIVECOMMENTS_MQTT_URL={url}\n")
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
    """Every broker of a local plan, supervised: cores start first and stop last. A
    `livecomments.service.Service`: alive while every broker is, `stop()` safe to repeat."""

    name = "mosquitto-cluster"

    def __init__(self, plan: Plan, settings: Settings, policy: RestartPolicy | None = None) -> None:
        if plan.deployed:
            raise ConfigError("a deployment plan runs on several machines, not here")
        self.plan = plan
        self.settings = settings
        self.policy = policy
        self.brokers: dict[str, SupervisedBroker] = {}
        self._started = False
        self._stopped = False

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a Cluster starts once")
        self._started = True
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
        if not self._started:  # not started: nothing to stop
            return
        self._stopped = True
        for name in reversed(list(self.brokers)):
            self.brokers[name].stop()

    def is_alive(self) -> bool:
        """Started, not stopped, and every broker of the plan supervised (none stopped or given up)."""
        return (not self._stopped and len(self.brokers) == len(self.plan.nodes)
                and all(b.is_alive() for b in self.brokers.values()))

    def failed(self) -> list[str]:
        return [name for name, b in self.brokers.items() if b.gave_up.is_set()]

    def wait_bridged(self, timeout: float = 20.0) -> bool:
        """Until every edge reports its link to the core up ($SYS/broker/connection/<id>/state = 1)."""
        deadline = time.monotonic() + timeout
        password = broker_passwords(self.settings.data_dir)[ACCOUNT_OPERATOR]
        while time.monotonic() < deadline:
            found = status(self.plan.edges, password, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if all(s.reachable and s.core_links and all(s.core_links.values()) for s in found):
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
    def core_links(self) -> dict[str, bool]:
        """An edge's links to the core (Mosquitto's bridge connections): remote client id -> up."""
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
        links = ", ".join(f"{name}={'up' if up else 'DOWN'}" for name, up in sorted(row.core_links.items())) or "-"
        lines.append(
            f"{row.node.name:<14} {row.node.role:<5} {address:<22} {row.value('clients/connected'):>7} "
            f"{row.value('load/messages/received/1min'):>11} {row.value('load/messages/sent/1min'):>12} "
            f"{row.value('load/publish/sent/1min'):>11}  {links}"
        )
    return "\n".join(lines)


__all__ = [
    "Cluster", "Knobs", "Node", "NodeStatus", "Plan", "deployment_plan", "format_status", "generate",
    "load_nodes", "local_plan", "read_sys", "status",
]
