"""Brokers for many viewers: one core Mosquitto (or an active/standby pair) and N edges.

Mosquitto has no clustering; it scales out by bridging. The core carries `ingest/`, the
bridge service and the web app; each edge links to the core (a Mosquitto bridge
connection, `broker.mosquitto.conf.CoreLink`), takes the live tree in from it and holds
viewers' connections (TCP and WebSocket). Edges are stateless copies, so a viewer can fail
over from one to another (docs/operations.md has the picture and every knob).

- `plan`: `Node`, `Knobs`, `Plan`; `local_plan` places every broker on this machine,
  `deployment_plan` one per machine (with the paths of the production example).
- `generate`: `node_config` (pure), `generate` writes every broker's files and cluster.json,
  `load_nodes` reads it back.
- `runner`: `Cluster`, a local plan's brokers supervised (`livecomments cluster run`).
- `status`: `read_sys`, `status`, `format_status`, `$SYS/#` as the operator account reads it
  (`livecomments cluster status`).

The commands themselves are in `wiring.broker_commands`.
"""

from __future__ import annotations

from broker.cluster.generate import TOPOLOGY_FILE, accounts_of, generate, load_nodes, node_config
from broker.cluster.plan import Knobs, Node, Plan, Role, deployment_plan, local_plan
from broker.cluster.runner import Cluster
from broker.cluster.status import NodeStatus, format_status, read_sys, status

__all__ = [
    "TOPOLOGY_FILE", "Cluster", "Knobs", "Node", "NodeStatus", "Plan", "Role", "accounts_of", "deployment_plan",
    "format_status", "generate", "load_nodes", "local_plan", "node_config", "read_sys", "status",
]
