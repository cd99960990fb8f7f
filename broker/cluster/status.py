"""Every broker's state from `$SYS/#`, read as the operator account: connections, message
rates and, on an edge, whether its link to the core is up (`livecomments cluster status`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from broker.cluster.plan import Node
from broker.mosquitto.accounts import ACCOUNT_OPERATOR

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

