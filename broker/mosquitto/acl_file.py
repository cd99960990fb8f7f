"""Mosquitto's ACL file, rendered from the rules in `broker.acl` (the rules the embedded
broker applies) under the configured live/ingest prefixes, plus the two Mosquitto-only
accounts (`accounts`): an edge's link to the core reads live/, the operator reads $SYS/. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from broker import acl
from broker.mosquitto import syntax
from broker.mosquitto.accounts import BROKER_ACCOUNTS, ROLE_EDGE, ROLE_MONITOR
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from livecomments.topics import Topics

Access = Literal["read", "write", "readwrite"]

_ROLE_NOTES: Mapping[str | None, str] = {
    None: "Anonymous clients (viewers, display boards): read the live tree, nothing else.",
    ROLE_BRIDGE: "The bridge service: the single writer of the live tree, the reader of ingest.",
    ROLE_SERVICE: "Services (the web app): write ingest, read the live tree.",
    ROLE_EDGE: "Edge brokers' bridges to the core: read the live tree.",
    ROLE_MONITOR: "Operators' monitoring (livecomments cluster status): read the broker's $SYS tree.",
}


def grants(role: str | None, topics: Topics) -> list[tuple[Access, str]]:
    """(access, topic filter) lines for a role: from `broker.acl` for its roles, fixed for Mosquitto's own."""
    if role == ROLE_EDGE:
        return [("read", topics.live_filter)]
    if role == ROLE_MONITOR:
        return [("read", "$SYS/#")]
    lines: list[tuple[Access, str]] = []
    for prefix in (topics.live_prefix, topics.ingest_prefix):
        access = _access(role, prefix, topics)
        if access is not None:
            lines.append((access, f"{prefix}#"))
    return lines


def _access(role: str | None, prefix: str, topics: Topics) -> Access | None:
    sample = f"{prefix}videos/v1/comments"
    subscribe = acl.is_allowed(role, acl.SUBSCRIBE, f"{prefix}#", topics)
    receive = acl.is_allowed(role, acl.RECEIVE, sample, topics)
    if subscribe != receive:
        raise AssertionError(f"broker.acl lets role {role!r} subscribe or receive {prefix}, not both")
    write = acl.is_allowed(role, acl.PUBLISH, sample, topics)
    return "readwrite" if receive and write else "read" if receive else "write" if write else None


def render_acl(topics: Topics, accounts: Sequence[str] = tuple(BROKER_ACCOUNTS)) -> str:
    """The ACL file: anonymous grants first (Mosquitto applies lines before any `user` to anonymous clients)."""
    out = [
        "# Mosquitto ACL for livecomments, rendered by broker/mosquitto/acl_file.py from the rules in",
        "# broker/acl.py: do not edit. Mosquitto denies every topic not granted here.",
        "# There are no `pattern` lines: they apply to every client and substitute its client",
        "# id or username into topics, so no client id or username can change what a client",
        "# may do. An unknown username, or one without its password, is refused at CONNECT.",
        "",
    ]
    for role, account in [(None, None), *((BROKER_ACCOUNTS[a], a) for a in accounts)]:
        out.append(f"# {_ROLE_NOTES[role]}")
        if account is not None:
            out.append(f"user {syntax.word(account)}")
        out += [f"topic {access} {syntax.word(topic)}" for access, topic in grants(role, topics)]
        out.append("")
    return "\n".join(out)
