"""A whole system for tests: real broker, bridge and web app processes on free ports."""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from infra.credentials import CREDENTIALS_FILE
from infra.db import make_engine
from infra.ports import free_port
from livecomments.models import Comment
from tests.support.api import Api
from tests.support.mqtt import Collector
from tests.support.stack import Stack


@dataclass
class System:
    stack: Stack
    api: Api
    metrics_port: int
    sessions: sessionmaker[Session]

    def creds(self, account: str) -> tuple[str, str]:
        doc = json.loads((self.stack.data_dir / CREDENTIALS_FILE).read_text())
        return account, doc["passwords"][account]

    def viewer(self, *topics: str) -> Collector:
        return Collector(self.stack.mqtt_port, *topics)

    def bridge_metric(self, name: str, **labels: str) -> float:
        return self.metric_at(self.metrics_port, name, **labels)

    @staticmethod
    def metric_at(port: int, name: str, **labels: str) -> float:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def close(self) -> None:
        """The test's own database connections (the processes are the stack's to stop)."""
        engine = self.sessions.kw["bind"]
        assert isinstance(engine, Engine)
        engine.dispose()

    def rows(self, video_id: str) -> list[Comment]:
        with self.sessions() as s:
            return list(s.scalars(select(Comment).where(Comment.video_id == video_id).order_by(Comment.seq)))


def start_system(stack: Stack) -> System:
    """Broker, bridge (its metrics on a free port) and web app, on the stack's database."""
    metrics_port = free_port()
    stack.broker()
    bridge = stack.service("bridge")
    bridge.env["LIVECOMMENTS_BRIDGE_METRICS_PORT"] = str(metrics_port)
    bridge.ports = [metrics_port]
    bridge.start()
    stack.web()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    return System(stack, api, metrics_port, sessions=sessionmaker(make_engine(stack.effective_database_url)))
