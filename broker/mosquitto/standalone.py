"""One Mosquitto broker on its own (no cluster): its configuration and the production example.

The same two listeners serve everyone: TCP for the services, display boards and operators,
WebSocket for browsers, both with the password and ACL files, anonymous clients read-only.
Pure: the files are written by `data_dir.write_files`.
"""

from __future__ import annotations

from pathlib import Path

from broker.mosquitto.conf import BrokerConfig, Listener, render_config
from broker.mosquitto.host import current_user
from broker.mosquitto.layout import MosquittoFiles
from broker.mosquitto.sizing import Limits
from livecomments.config import Settings

_PRODUCTION_ORIGIN = (
    "# This is the production example: `livecomments mosquitto-config --example` prints it.\n"
    "# `livecomments mosquitto-config --data-dir D --out /etc/livecomments` writes the ACL\n"
    "# file and the password file it names (hashed passwords generated into the data dir,\n"
    "# never committed), and a copy of this file with the data dir's ports and paths."
)


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
    """TCP and WebSocket listeners, both with the password and ACL files, anonymous read-only;
    `run_as` defaults to the current user."""
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
    return render_config(single_broker_config(
        Settings(), MosquittoFiles.production(), title="one production broker", origin=_PRODUCTION_ORIGIN,
        run_as="mosquitto",
    ))
