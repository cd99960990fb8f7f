"""Who may do what on which topic. Pure logic, no IO; the broker plugins apply it.

Deny by default: a (role, action) pair not listed in `_GRANTS` is refused, and so is
every topic that is not well formed for its action.

- anonymous (role None): subscribe to filters confined to the live prefix, receive
  topics under it, publish nothing;
- the bridge: publish under live/, subscribe to and receive live/ and ingest/;
- services (the web app and other producers): publish under ingest/, subscribe to and
  receive live/.

"Under a prefix" means the topic (or filter) starts with the prefix literally and has
at least one more character, so `live/#` and `live/videos/+/comments` are confined to
`live/`, while `#`, `+/videos/#` and `$SYS/#` are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from livecomments.topics import Topics

PUBLISH = "publish"
SUBSCRIBE = "subscribe"
RECEIVE = "receive"
ACTIONS = (PUBLISH, SUBSCRIBE, RECEIVE)

Zone = Literal["live", "ingest"]

_LIVE: frozenset[Zone] = frozenset({"live"})
_INGEST: frozenset[Zone] = frozenset({"ingest"})
_BOTH: frozenset[Zone] = frozenset({"live", "ingest"})

_GRANTS: Mapping[str | None, Mapping[str, frozenset[Zone]]] = {
    None: {SUBSCRIBE: _LIVE, RECEIVE: _LIVE},
    ROLE_BRIDGE: {PUBLISH: _LIVE, SUBSCRIBE: _BOTH, RECEIVE: _BOTH},
    ROLE_SERVICE: {PUBLISH: _INGEST, SUBSCRIBE: _LIVE, RECEIVE: _LIVE},
}


def is_allowed(role: str | None, action: str, topic: str, topics: Topics) -> bool:
    """Whether a client of `role` (None: anonymous) may `action` the topic (a filter for subscribe)."""
    zones = _GRANTS.get(role, {}).get(str(action), frozenset())
    if not zones or not is_well_formed(str(action), topic):
        return False
    return any(_is_under(topic, _prefix(zone, topics)) for zone in zones)


def is_well_formed(action: str, topic: str) -> bool:
    """A non-empty topic without NUL; a valid filter for subscribe, a wildcard-free name otherwise."""
    if not isinstance(topic, str) or not topic or "\0" in topic:
        return False
    if action == SUBSCRIBE:
        return is_valid_filter(topic)
    return "+" not in topic and "#" not in topic


def is_valid_filter(topic_filter: str) -> bool:
    """MQTT filter syntax: `+` fills a whole level, `#` fills the whole last level."""
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "+" in level and level != "+":
            return False
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
    return True


def _prefix(zone: Zone, topics: Topics) -> str:
    return topics.live_prefix if zone == "live" else topics.ingest_prefix


def _is_under(topic: str, prefix: str) -> bool:
    # The prefixes end with "/" and hold no wildcard (Topics checks), so a literal
    # string prefix is also a literal match of the first topic levels.
    return len(topic) > len(prefix) and topic.startswith(prefix)
