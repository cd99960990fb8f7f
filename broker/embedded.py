"""The embedded development broker: amqtt 0.12.1 with the project's access control.

It listens for MQTT on TCP and for MQTT over WebSocket (path `/mqtt`, subprotocol
`mqtt`). `BrokerThread` runs it on its own event loop in a daemon thread (used by
`livecomments up`); `serve` runs it in the foreground (`livecomments broker`).

`LiveBroker` closes holes amqtt leaves open (see `LiveBroker`'s docstring); the rules
themselves are in `broker.acl`, applied by the plugins in `broker.plugins`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import websockets.asyncio.server
from amqtt.adapters import (
    ReaderAdapter,
    StreamReaderAdapter,
    StreamWriterAdapter,
    WebSocketsReader,
    WebSocketsWriter,
    WriterAdapter,
)
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerType
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidMessage
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

from broker.mosquitto.rlimit import raise_fd_limit
from broker.mosquitto.sizing import Limits
from broker.plugins import REFUSAL_KEY, TopicACLPlugin, principal_of
from infra import credentials, ports
from livecomments import presence
from livecomments.config import Settings

log = logging.getLogger(__name__)

WS_PATH = "/mqtt"
# The WebSocket listener's limits (the websockets library's): a message may hold one whole packet
# the TCP listener accepts (max_packet_size after a fixed header of at most 5 bytes); a bigger one,
# or a frame announcing more, closes the connection (1009) before its body is buffered. At most
# WS_MAX_QUEUE messages wait for amqtt before the connection is read no more (TCP pushes back):
# what one connection can make the broker hold is about (WS_MAX_QUEUE + 2) x max_size, 17 MB.
MQTT_FIXED_HEADER_MAX = 5
WS_MAX_QUEUE = 4
TCP_LISTENER = "default"  # amqtt requires a listener named "default"
WS_LISTENER = "ws"
AUTH_PLUGIN = "broker.plugins.AuthPlugin"
TOPIC_PLUGIN = "broker.plugins.TopicACLPlugin"
_CHATTY_LOGGERS = ("amqtt", "transitions", "websockets")
_RESUMED_FIELDS = (
    "will_flag", "will_message", "will_qos", "will_retain", "will_topic", "keep_alive", "username", "password"
)


class BrokerStartError(RuntimeError):
    """The broker could not start (a port is taken, a bad users file, ...)."""


def broker_config(settings: Settings) -> dict[str, Any]:
    """amqtt's configuration: TCP and WebSocket listeners, our two plugins and nothing else."""
    prefixes = {"live_prefix": settings.live_prefix, "ingest_prefix": settings.ingest_prefix}
    users_file = (settings.data_dir / credentials.BROKER_USERS_FILE).resolve()
    return {
        "listeners": {
            TCP_LISTENER: {"type": "tcp", "bind": f"{settings.host}:{settings.mqtt_port}"},
            WS_LISTENER: {"type": "ws", "bind": f"{settings.host}:{settings.ws_port}"},
        },
        "plugins": {
            AUTH_PLUGIN: {"users_file": str(users_file), **prefixes},
            TOPIC_PLUGIN: dict(prefixes),
        },
    }


class _ProbeFilter(logging.Filter):
    """Drops the errors a mere TCP connect-and-close (a port probe, a health check) makes amqtt and websockets log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name == "amqtt.broker":
            return not message.startswith("Failed to initialize client session: No data")
        if record.name == "websockets.server" and message == "opening handshake failed" and record.exc_info:
            return not _closed_before_request(record.exc_info[1])
        return True


def _closed_before_request(error: BaseException | None) -> bool:
    return isinstance(error, InvalidMessage) and isinstance(error.__cause__, EOFError)


_PROBE_FILTER = _ProbeFilter()


def quiet_amqtt_logging() -> None:
    """amqtt (and the libraries under it) at WARNING unless the root logger is at DEBUG or they were set;
    port probes not logged as errors."""
    for name in ("amqtt.broker", "websockets.server"):
        logging.getLogger(name).addFilter(_PROBE_FILTER)  # a no-op if already there
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


class PacketTooLarge(AMQTTError):  # type: ignore[misc]
    """A client announced a packet over the broker's maximum size; its connection is closed."""


class BoundedReader(ReaderAdapter):  # type: ignore[misc]
    """A reader adapter that follows the MQTT packet boundaries in the bytes it hands over and,
    when a fixed header announces a remaining length over `max_packet_size`, aborts the
    connection and raises PacketTooLarge before anything reads the body.

    It counts bytes, whatever sizes amqtt reads them in: a type byte, up to four length
    bytes, then `remaining length` body bytes, then the next packet's type byte."""

    __slots__ = ("_inner", "_abort", "_max", "_body_left", "_length", "_multiplier", "_in_length")

    def __init__(self, inner: ReaderAdapter, abort: Callable[[], None], max_packet_size: int) -> None:
        self._inner, self._abort, self._max = inner, abort, max_packet_size
        self._body_left = 0  # bytes of the current packet's body not handed over yet
        self._in_length = False  # between a type byte and the last remaining-length byte
        self._length, self._multiplier = 0, 1

    async def read(self, n: int = -1) -> bytes:
        data: bytes = await self._inner.read(n)
        if self._body_left >= len(data):  # the body of a packet already checked: the common case
            self._body_left -= len(data)
        else:
            self._follow(data)
        return data

    def _follow(self, data: bytes) -> None:
        i = self._body_left
        self._body_left = 0
        while i < len(data):
            if not self._in_length:  # a type byte
                self._in_length, self._length, self._multiplier = True, 0, 1
                i += 1
                continue
            byte = data[i]
            i += 1
            self._length += (byte & 0x7F) * self._multiplier
            self._multiplier *= 128
            if byte & 0x80:
                continue
            self._in_length = False
            if self._length > self._max:
                self._abort()
                raise PacketTooLarge(f"a packet of {self._length} bytes announced; at most {self._max} are accepted")
            take = min(self._length, len(data) - i)
            i += take
            self._body_left = self._length - take

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class _SnapshotDict(dict[str, Any]):
    """A dict whose iteration walks a copy, so it may change while a walk awaits."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())


class LiveBroker(Broker):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt's broker, with six holes closed (and a faster topic check).

    - Packets are bounded: amqtt buffers a packet of any announced size (up to 256 MB); a
      `BoundedReader` on both listeners closes the connection when a fixed header announces
      more than `max_packet_size` (the figure Mosquitto is given), before the body is read.
    - MQTT over WebSocket only at `/mqtt`: amqtt serves any request path.
    - Credentials are checked before amqtt touches existing sessions: amqtt deletes a
      clean-session client's old session, resumes a persistent one and takes over a
      connected client of the same id all before authentication. A client id already
      held by another account is refused too, so nobody inherits someone else's
      session (its subscriptions and queued messages).
    - Retained messages go only to sessions subscribed to a matching filter, and only
      if the session may receive the topic: on every connect amqtt replays the retained
      messages of every filter any client subscribed to, without asking the topic plugins.
    - Only announcements reach presence/ (QoS 0, not retained, at most 64 bytes): amqtt's topic
      plugins see the topic but not the message, so the message is checked here.
    - Clients that merely open a TCP connection (port probes) are not logged as errors
      (with `quiet_amqtt_logging`).
    - The subscription table is iterated over a snapshot: amqtt walks it while awaiting
      sends (a persistent session reconnecting), and a subscribe meanwhile would end that
      walk with "dictionary changed size during iteration".
    """

    def __init__(
        self, config: dict[str, Any], loop: asyncio.AbstractEventLoop | None = None,
        plugin_namespace: str | None = None, *, max_packet_size: int,
    ) -> None:
        super().__init__(config, loop, plugin_namespace)
        self.max_packet_size = max_packet_size  # Mosquitto's `max_packet_size`, from the same figures
        self._subscriptions: _SnapshotDict = _SnapshotDict(vars(self)["_subscriptions"])
        topic_plugins = [p for p in self.plugins_manager.plugins if isinstance(p, BaseTopicPlugin)]
        self._acl: TopicACLPlugin | None = None
        if len(topic_plugins) == 1 and isinstance(topic_plugins[0], TopicACLPlugin):
            self._acl = topic_plugins[0]

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        # amqtt runs every check (one per delivery on the fan-out path) as a task per plugin,
        # gathered; when ours is the only topic plugin, ask it directly: same answer, ~1/3 faster fan-out.
        if self._acl is not None:
            return self._acl.allows(session, topic, action)
        return bool(await super()._topic_filtering(session, topic, action))

    async def _handle_message_delivery(
        self, client_session: Session, handler: BrokerProtocolHandler, wait_deliver: asyncio.Future[Any]
    ) -> bool:
        """As amqtt's, but a message on presence/ that is no announcement (retained, QoS 1 or 2, over
        64 bytes) is dropped: neither delivered nor retained (the bridge, which counts, excepted)."""
        message = wait_deliver.result() if wait_deliver.done() and not wait_deliver.cancelled() else None
        topic = getattr(message, "topic", None)
        if message is not None and isinstance(topic, str) and presence.is_presence_topic(topic) \
                and not _is_bridge(client_session):
            packet = message.publish_packet
            retain = bool(packet is not None and packet.retain_flag)
            if not presence.is_announcement(int(message.qos or 0), retain, len(message.data or b"")):
                log.debug("dropped a message on %r from %s: not an announcement", topic, client_session.client_id)
                return True
        return bool(await super()._handle_message_delivery(client_session, handler, wait_deliver))

    async def _create_server_instance(
        self, listener_name: str, listener_type: Any, address: str | None, port: int, ssl_context: Any
    ) -> Any:
        """As amqtt's, but without WebSocket-level pings (MQTT's keepalive already watches the
        connection, and paho 2.2 answers a server ping with an unmasked frame, so websockets
        closed every paho WebSocket client after its first ping, 20 s), and with the message
        size and queue bounded (WS_MAX_QUEUE) instead of websockets' defaults (1 MiB, 16)."""
        if listener_type != ListenerType.WS:
            return await super()._create_server_instance(listener_name, listener_type, address, port, ssl_context)
        return await websockets.asyncio.server.serve(
            partial(self.ws_connected, listener_name=listener_name),
            address,
            port,
            ssl=ssl_context,
            subprotocols=[Subprotocol("mqtt")],
            ping_interval=None,
            max_size=self.max_packet_size + MQTT_FIXED_HEADER_MAX,
            max_queue=WS_MAX_QUEUE,
        )

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        bounded = BoundedReader(StreamReaderAdapter(reader), writer.transport.abort, self.max_packet_size)
        await self._client_connected(listener_name, bounded, StreamWriterAdapter(writer))

    async def ws_connected(self, websocket: ServerConnection, listener_name: str) -> None:
        path = urlsplit(websocket.request.path).path if websocket.request is not None else ""
        if path != WS_PATH:
            log.info("closing a WebSocket connection for %r: MQTT is served at %s", path, WS_PATH)
            await websocket.close(CloseCode.POLICY_VIOLATION, f"MQTT is served at {WS_PATH}")
            return
        bounded = BoundedReader(WebSocketsReader(websocket), websocket.transport.abort, self.max_packet_size)
        await self._client_connected(listener_name, bounded, WebSocketsWriter(websocket))

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        handler, incoming = await self._read_connect(reader, writer, remote_address, remote_port)
        refusal = await self._refusal(incoming)
        if refusal is not None:
            await _refuse(writer)
            who = f"client id {incoming.client_id!r}, user {incoming.username!r}"
            raise MQTTError(f"refused CONNECT from {remote_address}:{remote_port} ({who}): {refusal}")
        return handler, await self._attach_session(incoming)

    async def _read_connect(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except NoDataError as exc:
            log.debug("no CONNECT from %s:%s: %s", remote_address, remote_port, exc)
            await _close_quietly(writer)
            raise AMQTTError(exc) from exc
        except (AMQTTError, MQTTError) as exc:
            log.debug("bad CONNECT from %s:%s: %s", remote_address, remote_port, exc)  # amqtt logs it too
            await _close_quietly(writer)
            raise
        return handler, session

    async def _refusal(self, incoming: Session) -> str | None:
        """Why the connection must be refused, or None to accept it."""
        if not await self._authenticate(incoming, None):
            return str(incoming.attributes.get(REFUSAL_KEY, "not authorized"))
        existing = self._sessions.get(incoming.client_id) if incoming.client_id else None
        if existing is not None:
            owner, newcomer = principal_of(existing[0]), principal_of(incoming)
            if owner is not None and newcomer is not None and owner.account != newcomer.account:
                return f"client id {incoming.client_id!r} belongs to another account"
        return None

    async def _attach_session(self, incoming: Session) -> Session:
        """amqtt's session handling after CONNECT (amqtt 0.12.1, Broker._initialize_client_session)."""
        session = incoming
        if incoming.clean_session:
            if incoming.client_id:
                await self._delete_session(incoming.client_id)
            else:
                incoming.client_id = gen_client_id()
            incoming.parent = 0
        elif incoming.client_id in self._sessions:
            session = self._sessions[incoming.client_id][0]
            for name in _RESUMED_FIELDS:
                setattr(session, name, getattr(incoming, name))
            session.parent = 1
        else:
            incoming.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return session

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter, qos = subscription
        handler = self._get_handler(session)
        if handler is None or not self._is_subscribed(session, topic_filter):
            return
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if self._matches(topic, topic_filter) and await self._topic_filtering(session, topic, Action.RECEIVE):
                qos_out = min(qos, retained.qos or qos)
                tasks.append(asyncio.ensure_future(handler.mqtt_publish(topic, retained.data, qos_out, retain=True)))
        if tasks:
            await asyncio.wait(tasks)

    def _is_subscribed(self, session: Session, topic_filter: str) -> bool:
        return any(s.client_id == session.client_id for s, _qos in self._subscriptions.get(topic_filter, ()))


def _is_bridge(session: Session) -> bool:
    principal = principal_of(session)
    return principal is not None and principal.role == credentials.ROLE_BRIDGE


async def _refuse(writer: WriterAdapter) -> None:
    with contextlib.suppress(Exception):
        await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
    await _close_quietly(writer)


async def _close_quietly(writer: WriterAdapter) -> None:
    with contextlib.suppress(Exception):
        await writer.close()


class BrokerThread:
    """The broker on its own event loop in a daemon thread; a `livecomments.service.Service`.

    `start()` returns once both listeners accept connections, or raises BrokerStartError;
    `stop()` shuts the broker down (its sessions, listeners and plugins) and joins the thread,
    and may be called twice or before `start()`; `is_alive()` is true while the loop runs.
    """

    name = "amqtt"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._config = broker_config(settings)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._stop_requested = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._bound: dict[str, int] = {}

    @property
    def mqtt_port(self) -> int:
        """The TCP listener's port (the bound one, if the settings said 0)."""
        return self._bound.get(TCP_LISTENER, self.settings.mqtt_port)

    @property
    def ws_port(self) -> int:
        """The WebSocket listener's port (the bound one, if the settings said 0)."""
        return self._bound.get(WS_LISTENER, self.settings.ws_port)

    def listening_lines(self) -> list[str]:
        host = _url_host(self.settings.host)
        return [
            f"MQTT (TCP) listening on mqtt://{host}:{self.mqtt_port}",
            f"MQTT over WebSocket listening on ws://{host}:{self.ws_port}{WS_PATH}",
        ]

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop_requested.is_set()

    def start(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            raise RuntimeError("a BrokerThread starts once")
        quiet_amqtt_logging()
        raise_fd_limit()  # at a soft limit of 1,024 the listener fails for good once it is reached
        credentials.ensure_credentials(self.settings.data_dir)
        self._check_ports()
        self._thread = threading.Thread(target=self._run, name="livecomments-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise BrokerStartError(f"the MQTT broker did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise BrokerStartError(f"the MQTT broker could not start: {_describe(self._error)}") from self._error

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread is None:  # not started: nothing to stop
            return
        self._stop_requested.set()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the MQTT broker did not stop within %g s", timeout)

    def _check_ports(self) -> None:
        # amqtt would say the same, with a traceback; this says it plainly.
        host = self.settings.host
        for what, port in (("MQTT (TCP)", self.settings.mqtt_port), ("MQTT over WebSocket", self.settings.ws_port)):
            if port and not ports.is_free(host, port):
                raise BrokerStartError(f"cannot listen for {what} on {host}:{port}: the port is taken")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(), or logged
            if self._ready.is_set():
                log.exception("the MQTT broker stopped unexpectedly")
            else:
                self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        max_packet_size = Limits.for_settings(self.settings).max_packet_size
        broker = LiveBroker(copy.deepcopy(self._config), max_packet_size=max_packet_size)
        try:
            await broker.start()
        except BaseException:
            await _close_listeners(broker)
            raise
        self._bound = _bound_ports(broker)
        self._ready.set()
        if not self._stop_requested.is_set():
            await self._stopping.wait()
        await broker.shutdown()


def _bound_ports(broker: LiveBroker) -> dict[str, int]:
    bound: dict[str, int] = {}
    for name, server in broker._servers.items():  # amqtt has no public accessor
        for sock in server.instance.sockets:
            bound[name] = int(sock.getsockname()[1])
    return bound


async def _close_listeners(broker: LiveBroker) -> None:
    # amqtt leaves the listeners it opened before a failure listening.
    for server in list(broker._servers.values()):
        with contextlib.suppress(Exception):
            await server.close_instance()


def _describe(error: BaseException) -> str:
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None:
        text = str(current) or type(current).__name__
        if not any(text in seen for seen in messages):
            messages.append(text)
        current = current.__cause__
    return "; ".join(messages)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
