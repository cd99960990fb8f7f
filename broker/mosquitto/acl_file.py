"""Mosquitto's ACL file, rendered from the rules in `broker.acl` (the rules the embedded
broker applies) under the configured live/ingest prefixes, plus the two Mosquitto-only
accounts (`accounts`): an edge's link to the core reads live/ and writes presence/ (the
announcements of the edge's viewers), the operator reads $SYS/. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from broker import acl
from broker.mosquitto import syntax
from broker.mosquitto.accounts import BROKER_ACCOUNTS, ROLE_EDGE, ROLE_MONITOR
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from livecomments import presence
from livecomments.topics import Topics

Access = Literal["read", "write", "readwrite"]

_ROLE_NOTES: Mapping[str | None, str] = {
    None: "Anonymous clients (viewers, display boards): read the live tree; announce only themselves (above).",
    ROLE_BRIDGE: "The bridge service: the single writer of the live tree, the reader of ingest and presence.",
    ROLE_SERVICE: "Services (the web app): write ingest, read the live tree.",
    ROLE_EDGE: "Edge brokers' bridges to the core: read the live tree, carry viewers' announcements in.",
    ROLE_MONITOR: "Operators' monitoring (livecomments cluster status): read the broker's $SYS tree.",
}


PRESENCE_TREE = f"{presence.PRESENCE_PREFIX}#"
# Every client may announce itself on the presence topic of its own client id (Mosquitto puts
# the connection's client id in place of %c); `broker.acl` says the same (`presence.may_announce`).
PRESENCE_PATTERN = f"{presence.PRESENCE_PREFIX}videos/+/%c"


def grants(role: str | None, topics: Topics) -> list[tuple[Access, str]]:
    """(access, topic filter) lines for a role: from `broker.acl` for its roles, fixed for Mosquitto's own."""
    if role == ROLE_EDGE:  # live/ comes in from the core; viewers' announcements go out to it
        return [("read", topics.live_filter), ("write", PRESENCE_TREE)]
    if role == ROLE_MONITOR:
        return [("read", "$SYS/#")]
    lines: list[tuple[Access, str]] = []
    for prefix in (topics.live_prefix, topics.ingest_prefix):
        access = _access(role, prefix, topics)
        if access is not None:
            lines.append((access, f"{prefix}#"))
    nudge = f"{topics.ingest_prefix}videos/+/changes"
    if acl.is_allowed(role, acl.PUBLISH, nudge.replace("+", "v1"), topics) and ("write", f"{topics.ingest_prefix}#") \
            not in lines and ("readwrite", f"{topics.ingest_prefix}#") not in lines:
        lines.append(("write", nudge))
    access = _presence_access(role)
    if access is not None:
        lines.append((access, PRESENCE_TREE))
    return lines


def _presence_access(role: str | None) -> Access | None:
    """Beyond the pattern: the whole presence tree, for the role that counts (the bridge)."""
    sample = presence.presence_topic("v1", "someone-else")
    subscribe = acl.is_allowed(role, acl.SUBSCRIBE, PRESENCE_TREE, Topics())
    receive = acl.is_allowed(role, acl.RECEIVE, sample, Topics())
    if subscribe != receive:
        raise AssertionError(f"broker.acl lets role {role!r} subscribe or receive presence/, not both")
    write = acl.is_allowed(role, acl.PUBLISH, sample, Topics(), client_id="not-someone-else")
    return "readwrite" if receive and write else "read" if receive else "write" if write else None


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
        "# One `pattern` line: it applies to every client and puts the client's own id in place of",
        "# %c, so a viewer may announce itself (presence/videos/{v}/{its client id}) and for no",
        "# one else; no other line depends on a client id or a username. An unknown username,",
        "# or one without its password, is refused at CONNECT.",
        "",
        "# Every client: its own announcements (QoS 0, not retained, at most 64 bytes is what the",
        "# counting bridge takes; Mosquitto cannot check a message's QoS, retain flag or size per topic).",
        f"pattern write {syntax.word(PRESENCE_PATTERN)}",
        "",
    ]
    for role, account in [(None, None), *((BROKER_ACCOUNTS[a], a) for a in accounts)]:
        out.append(f"# {_ROLE_NOTES[role]}")
        if account is not None:
            out.append(f"user {syntax.word(account)}")
        out += [f"topic {access} {syntax.word(topic)}" for access, topic in grants(role, topics)]
        out.append("")
    return "\n".join(out)
