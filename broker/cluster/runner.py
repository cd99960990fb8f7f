"""Running a local plan on this machine: `Cluster` supervises every broker (cores first,
edges after; stopped in reverse). A `livecomments.service.Service`.
"""

from __future__ import annotations

import time

from broker.cluster.generate import generate
from broker.cluster.plan import Node, Plan
from broker.cluster.status import status
from broker.mosquitto.accounts import ACCOUNT_OPERATOR
from broker.mosquitto.layout import CONF_FILE, LOG_FILE
from broker.mosquitto.passwd import broker_passwords
from broker.mosquitto.supervisor import RestartPolicy, SupervisedBroker
from livecomments.config import ConfigError, Settings


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

