"""mosquitto.conf, rendered from one template (`_GLOBAL`, `_LISTENER`, `_CORE_LINK` below). Pure.

A `BrokerConfig` says everything one file says: the limits (`sizing.Limits`), the
listeners, and, on an edge, its links to the core (Mosquitto calls them bridges;
`CoreLink` here, so as not to be confused with the bridge service). The repository's
root `mosquitto.conf` is this template rendered for one production broker
(`standalone.render_production_example`); a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from broker.mosquitto import syntax
from broker.mosquitto.accounts import ACCOUNT_EDGE
from broker.mosquitto.sizing import BRIDGE_EVENTS_PER_MESSAGE, EVENT_MAX_BYTES, Limits
from livecomments.config import BRIDGE_BATCH_MAX, ConfigError
from livecomments.presence import PRESENCE_PREFIX
from livecomments.topics import Topics

WS_PATH = "/mqtt"  # what clients use; Mosquitto 2.0.11 serves MQTT on any WebSocket path

_GLOBAL = Template("""\
# Mosquitto 2.0 configuration for livecomments: $title.
#
# Rendered by broker/mosquitto/conf.py; edit the template there, not this file.
$origin
# Every option is explained in docs/operations.md.

# --- security: each listener has its own authentication and access control ------------
per_listener_settings true
# Started as root, Mosquitto drops to this user, which must read the password and ACL
# files and write the persistence directory.
user $run_as

# --- latency --------------------------------------------------------------------------
# Nagle off (Mosquitto's default is on): otherwise a small message can wait ~9 ms.
set_tcp_nodelay true

# --- message size (one limit for every client and listener) ---------------------------
# Mosquitto reads a packet's length first and disconnects a client whose packet is
# larger than this. 2.0 has no per-listener or per-topic limit, and a bridged edge
# applies its own limit to what the core sends it, so the limit must fit the largest
# message the bridge publishes: an event batch of up to $batch_events events, or the retained
# `recent` snapshot ($recent_size comments), at most $event_max_bytes bytes of JSON per comment,
# plus a topic of up to 64 KiB. A smaller limit would cut the bridge off here and every
# edge off the core, again at each retry. (message_size_limit is not used: Mosquitto
# recommends max_packet_size instead, and it drops a bigger message silently, still
# PUBACKing it for MQTT 3.1.1.) The contract's 8 KiB limit on ingest/ payloads is
# enforced by the web app (HTTP 413) and by the bridge, which rejects and counts
# larger submissions.
max_packet_size $max_packet_size

# --- flow and queues (per client) -----------------------------------------------------
# Unacknowledged QoS 1/2 messages sent to one client. The bridge acknowledges an ingest
# message only after its commit and decides up to $batch_max per transaction, so it
# needs twice that in flight (Mosquitto's default, 20, would cap its batches at 20).
max_inflight_messages $max_inflight_messages
# Messages queued for one client beyond those in flight (QoS 0 ones for a connected
# client count too). Past either limit Mosquitto 2.0.11 drops messages silently.
# Nothing is lost for good: the database is the source of truth, a stuck submission is
# re-driven, and a viewer repairs a seq gap from the HTTP history.
max_queued_messages $max_queued_messages
max_queued_bytes $max_queued_bytes
# MQTT 5 clients asking for a longer keepalive are told to use this one (MQTT 3.1.1
# clients keep theirs). A dead connection is noticed within 1.5 keepalives.
max_keepalive $max_keepalive
# A persistent session (clean session off) whose client stays away this long is removed.
persistent_client_expiration $persistent_client_expiration

# --- persistence ----------------------------------------------------------------------
# Retained messages and persistent sessions (the bridge's subscription to ingest/)
# survive a restart. A snapshot is written every autosave_interval seconds and on exit;
# what happened since a crash is rebuilt by the bridge, which republishes every live
# video's retained topics whenever it reconnects.
persistence $persistence
persistence_location $persistence_location
autosave_interval $autosave_interval

# --- logs and $$SYS --------------------------------------------------------------------
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
# $$SYS/broker/... (clients, load, bridge state) every sys_interval seconds, readable
# only by the operator account.
sys_interval $sys_interval
""")

_LISTENER = Template("""
# --- $heading
${comment}listener $port$bind
${protocol}max_connections $max_connections
allow_anonymous $allow_anonymous
password_file $password_file
acl_file $acl_file
""")

_CORE_LINK = Template("""
# --- bridge to the core: $live_filter flows in, $presence_filter out, nothing else --------
# Several addresses with round_robin false: the first is the main (active) core, the
# others are tried in turn when it fails, and the main one again while on another.
connection $connection
address $addresses
round_robin false
# Client ids: the remote one names this edge on the core (and in the notification topic
# $$SYS/broker/connection/$remote_clientid/state); the local one is random and secret,
# because any client presenting a connected client's id takes its place.
remote_clientid $remote_clientid
local_clientid $local_clientid
remote_username $remote_username
remote_password $remote_password
bridge_protocol_version mqttv311
# Tell the core this is a bridge: retained messages keep their retain flag, so this
# edge holds its own copy of every retained live/ topic for joining viewers.
try_private true
# The core keeps nothing for a disconnected edge; on reconnecting it sends every
# retained topic again, and viewers repair any seq gap from the HTTP history.
cleansession $cleansession
keepalive_interval $keepalive_interval
# Reconnect delay: jitter from base to cap seconds ("restart_timeout base cap").
restart_timeout $restart_timeout
start_type automatic
# The bridge's state (1 up, 0 down), retained, on this broker only.
notifications true
notifications_local_only true
topic $live_filter in $qos
# Viewers' announcements go to the core, where the bridge service counts them; QoS 0, as
# they are published (each viewer repeats its own every 30 s). A retained one keeps its
# retain flag, so the counter knows to ignore it (and clears the core's copy).
topic $presence_filter out 0
""")


@dataclass(frozen=True)
class Listener:
    port: int
    bind: str | None  # None: every interface
    websockets: bool
    max_connections: int
    allow_anonymous: bool
    password_file: Path
    acl_file: Path
    heading: str = ""


@dataclass(frozen=True)
class CoreLink:
    """An edge broker's link to the core (or to an active/standby pair of cores): in
    Mosquitto's words, a bridge connection. Not the bridge service (`bridge.service`)."""

    addresses: tuple[str, ...]  # host:port, the main core first
    remote_clientid: str
    local_clientid: str
    password: str
    username: str = ACCOUNT_EDGE
    connection: str = "core"
    qos: int = 1
    cleansession: bool = True
    keepalive_interval: int = 30
    restart_timeout: tuple[int, int] = (1, 15)


@dataclass(frozen=True)
class BrokerConfig:
    """Everything one mosquitto.conf says."""

    title: str
    origin: str
    run_as: str
    persistence: bool
    persistence_location: Path
    limits: Limits
    listeners: tuple[Listener, ...]
    topics: Topics = field(default_factory=Topics)
    recent_size: int = 50
    batch_max: int = BRIDGE_BATCH_MAX
    core_links: tuple[CoreLink, ...] = ()  # an edge's; a core has none


def render_config(config: BrokerConfig) -> str:
    limits = config.limits
    text = _GLOBAL.substitute(
        title=config.title,
        origin=config.origin,
        run_as=config.run_as,
        batch_events=BRIDGE_EVENTS_PER_MESSAGE,
        recent_size=config.recent_size,
        event_max_bytes=EVENT_MAX_BYTES,
        batch_max=config.batch_max,
        max_packet_size=limits.max_packet_size,
        max_inflight_messages=limits.max_inflight_messages,
        max_queued_messages=limits.max_queued_messages,
        max_queued_bytes=limits.max_queued_bytes,
        max_keepalive=limits.max_keepalive,
        persistent_client_expiration=limits.persistent_client_expiration,
        persistence=syntax.boolean(config.persistence),
        persistence_location=syntax.path(config.persistence_location),
        autosave_interval=limits.autosave_interval,
        sys_interval=limits.sys_interval,
    )
    text += "".join(_render_listener(listener) for listener in config.listeners)
    text += "".join(_render_core_link(link, config.topics) for link in config.core_links)
    return text


def _render_listener(listener: Listener) -> str:
    comment = ""
    if listener.websockets:
        comment = (
            f"# Clients use the path {WS_PATH}. WARNING: Mosquitto 2.0.11's WebSocket listener\n"
            "# binds EVERY interface, whatever address follows the port, so a firewall or a\n"
            "# proxy must guard this port. (2.0.11 cannot have a WebSocket listener alone:\n"
            "# a TCP listener must exist too.)\n"
        )
    heading = listener.heading or ("MQTT over WebSocket" if listener.websockets else "MQTT over TCP")
    return _LISTENER.substitute(
        heading=f"{heading} " + "-" * max(3, 81 - len(heading)),
        comment=comment,
        port=listener.port,
        bind=f" {syntax.word(listener.bind)}" if listener.bind else "",
        protocol="protocol websockets\n" if listener.websockets else "",
        max_connections=listener.max_connections,
        allow_anonymous=syntax.boolean(listener.allow_anonymous),
        password_file=syntax.path(listener.password_file),
        acl_file=syntax.path(listener.acl_file),
    )


def _render_core_link(link: CoreLink, topics: Topics) -> str:
    if not link.addresses:
        raise ConfigError("a link to the core needs at least one core address")
    base, cap = link.restart_timeout
    return _CORE_LINK.substitute(
        connection=syntax.word(link.connection),
        addresses=" ".join(syntax.word(a) for a in link.addresses),
        remote_clientid=syntax.word(link.remote_clientid),
        local_clientid=syntax.word(link.local_clientid),
        remote_username=syntax.word(link.username),
        remote_password=syntax.word(link.password),
        cleansession=syntax.boolean(link.cleansession),
        keepalive_interval=link.keepalive_interval,
        restart_timeout=f"{base} {cap}",
        live_filter=syntax.word(topics.live_filter),
        presence_filter=syntax.word(f"{PRESENCE_PREFIX}#"),
        qos=link.qos,
    )
