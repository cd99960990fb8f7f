"""Where a core-and-edges topology's brokers are: the nodes, the knobs operators tune, and
the plan that places them on one machine (`local_plan`) or on one machine each
(`deployment_plan`). Pure, except that `local_plan` looks for free ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from broker.mosquitto.conf import WS_PATH
from broker.mosquitto.layout import ETC_DIR, PRODUCTION_PERSISTENCE
from broker.mosquitto.sizing import Limits
from infra import ports
from livecomments.config import ConfigError, Settings

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
        return f"mqtt://{url_host(self.host)}:{self.mqtt_port}"

    @property
    def ws_url(self) -> str | None:
        return f"ws://{url_host(self.host)}:{self.ws_port}{WS_PATH}" if self.ws_port else None

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


def url_host(host: str) -> str:
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
    addresses = tuple(f"{url_host(c.host)}:{c.mqtt_port}" for c in cores)
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

