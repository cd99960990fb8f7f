"""A topology's files: every broker's mosquitto.conf (`node_config`, pure), password and ACL
files, the services' env files and the topology itself (cluster.json), written by `generate`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from broker.cluster.plan import Node, Plan, url_host
from broker.mosquitto.accounts import ACCOUNT_EDGE, ACCOUNT_OPERATOR, BROKER_ACCOUNTS
from broker.mosquitto.acl_file import render_acl
from broker.mosquitto.conf import BrokerConfig, CoreLink, Listener, render_config
from broker.mosquitto.host import current_user, write_private
from broker.mosquitto.layout import ACL_FILE, CONF_FILE, PASSWORD_FILE
from broker.mosquitto.passwd import broker_passwords, write_password_file
from livecomments.config import Settings

TOPOLOGY_FILE = "cluster.json"


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
        url = f"mqtt://{account}:{passwords[account]}@{url_host(core.host)}:{core.mqtt_port}"
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

