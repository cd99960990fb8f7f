"""paho-mqtt clients as every service here needs them: API v2, TCP_NODELAY, credentials
from the URL or from the data dir, bounded queues, reconnect with backoff."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from infra.credentials import ensure_credentials
from livecomments.config import Settings


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def service_address(settings: Settings, account: str) -> BrokerAddress:
    """Where a service connects, and as whom: the URL's credentials, else the data dir's."""
    url = settings.mqtt_url or f"mqtt://{settings.host}:{settings.mqtt_port}"
    addr = BrokerAddress.parse(url)
    if addr.username is None:
        creds = ensure_credentials(settings.data_dir)
        addr = BrokerAddress(addr.host, addr.port, account, creds.passwords[account])
    return addr


def _nodelay(client: paho.Client, userdata: object, sock: Any) -> None:
    # Without this every small publish waits for Nagle (~9 ms on loopback).
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_client(
    client_id: str,
    addr: BrokerAddress,
    *,
    clean_session: bool = True,
    manual_ack: bool = False,
    max_queued: int = 100_000,
) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    if addr.username is not None:
        client.username_pw_set(addr.username, addr.password)
    client.on_socket_open = _nodelay
    client.max_queued_messages_set(max_queued)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(min_delay=1, max_delay=8)
    return client
