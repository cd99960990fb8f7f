"""A cheap asyncio MQTT client for load generators, over TCP or WebSocket.

One `MqttConnection` is an `asyncio.Protocol`: bytes go straight from `data_received`
through the `bench.mqtt` decoder to a callback, with no task switch per message. Over
WebSocket it uses the `websockets` package's Sans-I/O client (subprotocol `mqtt`), so
a frame costs a parse, not a coroutine. paho is not used for viewers: it `select()`s,
which fails past 1,024 descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from bench import mqtt

OnPublish = Callable[["MqttConnection", mqtt.Packet, int], None]


@dataclass(frozen=True)
class Endpoint:
    """Where a client connects: mqtt://host:port or ws://host:port/path."""

    url: str

    @property
    def websocket(self) -> bool:
        return urlsplit(self.url).scheme in ("ws", "wss")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (80 if self.websocket else 1883)

    @classmethod
    def tcp(cls, host: str, port: int) -> Endpoint:
        return cls(f"mqtt://{host}:{port}")

    @classmethod
    def ws(cls, host: str, port: int, path: str = "/mqtt") -> Endpoint:
        return cls(f"ws://{host}:{port}{path}")


class MqttError(RuntimeError):
    pass


def raise_nofile_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class MqttConnection(asyncio.Protocol):
    """One MQTT 3.1.1 session. Call `await open(...)`; PUBLISH packets go to `on_publish`
    with the receipt time (time.monotonic_ns(), taken once per chunk of bytes)."""

    def __init__(self, endpoint: Endpoint, on_publish: OnPublish | None = None) -> None:
        self.endpoint = endpoint
        self.on_publish = on_publish
        self.on_puback: Callable[[int], None] | None = None
        self.tag: Any = None  # the owner's per-connection state
        self._decoder = mqtt.Decoder()
        self._transport: asyncio.Transport | None = None
        self._ws: ClientProtocol | None = None
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._connack: asyncio.Future[int] = loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[int]]] = {}
        self.closed: asyncio.Future[None] = loop.create_future()
        self._next_id = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.endpoint.websocket:
            ws = ClientProtocol(parse_uri(self.endpoint.url), subprotocols=[Subprotocol("mqtt")], max_size=None)
            ws.send_request(ws.connect())
            self._ws = ws
            self._flush_ws()
        elif not self._opened.done():
            self._opened.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        ws = self._ws
        if ws is None:
            self._mqtt(data, now)
            return
        ws.receive_data(data)
        self._flush_ws()
        for event in ws.events_received():
            if isinstance(event, Frame):
                if event.opcode in (Opcode.BINARY, Opcode.CONT):
                    self._mqtt(bytes(event.data), now)
            elif isinstance(event, Response) and not self._opened.done():
                if ws.handshake_exc is not None:
                    self._opened.set_exception(MqttError(f"WebSocket handshake failed: {ws.handshake_exc}"))
                else:
                    self._opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        error = MqttError(f"connection lost: {exc or 'closed by the broker'}")
        futures: list[asyncio.Future[Any]] = [self._opened, self._connack, *self._subacks.values()]
        for future in futures:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning if nobody awaits it
        if not self.closed.done():
            self.closed.set_result(None)

    # -- MQTT ------------------------------------------------------------------------------

    def _mqtt(self, data: bytes, now: int) -> None:
        for packet in self._decoder.feed(data):
            kind = packet.type
            if kind == mqtt.PacketType.PUBLISH:
                if self.on_publish is not None:
                    self.on_publish(self, packet, now)
            elif kind == mqtt.PacketType.PUBACK:
                if self.on_puback is not None:
                    self.on_puback(mqtt.puback_id(packet))
            elif kind == mqtt.PacketType.CONNACK:
                if not self._connack.done():
                    self._connack.set_result(mqtt.connack_code(packet))
            elif kind == mqtt.PacketType.SUBACK:
                packet_id, codes = mqtt.suback_codes(packet)
                future = self._subacks.pop(packet_id, None)
                if future is not None and not future.done():
                    future.set_result(codes)

    def _flush_ws(self) -> None:
        assert self._ws is not None and self._transport is not None
        for chunk in self._ws.data_to_send():
            if chunk:
                self._transport.write(chunk)
            elif self._transport.can_write_eof():
                self._transport.write_eof()

    def send(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        if self._ws is not None:
            self._ws.send_binary(data)
            self._flush_ws()
        else:
            self._transport.write(data)

    def packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def handshake(self, client_id: str, *, keepalive: int, username: str | None, password: str | None,
                        timeout: float) -> None:
        await asyncio.wait_for(asyncio.shield(self._opened), timeout)
        self.send(mqtt.connect(client_id, keepalive, username=username, password=password))
        code = await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        if code != 0:
            raise MqttError(f"CONNACK refused the connection: code {code}")

    def subscribe_nowait(self, topics: list[tuple[str, int]]) -> asyncio.Future[list[int]]:
        packet_id = self.packet_id()
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._subacks[packet_id] = future
        self.send(mqtt.subscribe(packet_id, topics))
        return future

    async def subscribe(self, topics: list[tuple[str, int]], timeout: float = 10.0) -> list[int]:
        codes = await asyncio.wait_for(self.subscribe_nowait(topics), timeout)
        if any(c == 0x80 for c in codes):
            raise MqttError(f"SUBACK refused a filter: {codes}")
        return codes

    def ping(self) -> None:
        self.send(mqtt.PINGREQ)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self.send(mqtt.DISCONNECT)
            self._transport.close()

    @property
    def write_buffer(self) -> int:
        return self._transport.get_write_buffer_size() if self._transport is not None else 0


async def open_mqtt(
    endpoint: Endpoint,
    client_id: str,
    on_publish: OnPublish | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    keepalive: int = 120,
    timeout: float = 15.0,
) -> MqttConnection:
    """Connect, handshake (WebSocket, then MQTT CONNECT/CONNACK) and return the session."""
    loop = asyncio.get_running_loop()
    _transport, conn = await asyncio.wait_for(
        loop.create_connection(lambda: MqttConnection(endpoint, on_publish), endpoint.host, endpoint.port), timeout
    )
    try:
        await conn.handshake(client_id, keepalive=keepalive, username=username, password=password, timeout=timeout)
    except BaseException:
        conn.close()
        raise
    return conn
