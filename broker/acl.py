"""Who may do what on which topic. Pure logic, no IO; the broker plugins apply it.

Deny by default: a (role, action) pair not listed in `_GRANTS` is refused, and so is
every topic that is not well formed for its action.

- anonymous (role None): subscribe to filters confined to the live prefix, receive
  topics under it, publish nothing;
- the bridge: publish under live/, subscribe to and receive live/ and ingest/;
- services (the web app and other producers): publish under ingest/, subscribe to and
  receive live/.

presence/ (`livecomments.presence`) has rules of its own, checked before the zones, whatever
the prefixes: a connection may publish on `presence/videos/{v}/{client_id}` only where
{client_id} is its own MQTT client id (`client_id`; whatever its role, as Mosquitto's `%c` pattern),
and only the bridge (the service that counts the announcements) may subscribe to or receive
anything under presence/; it may also publish there (on Mosquitto it clears a retained
announcement it was sent), and publish the nudge `ingest/videos/{v}/changes` that tells the
owner of a video that its audience changed. What an announcement may carry (QoS 0, not
retained, at most 64 bytes) is `presence.is_announcement`, which the embedded broker applies
to the message (`broker.embedded`).

"Under a prefix" means the topic (or filter) starts with the prefix literally and has
at least one more character, so `live/#` and `live/videos/+/comments` are confined to
`live/`, while `#`, `+/videos/#` and `$SYS/#` are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from livecomments import presence
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


def is_allowed(role: str | None, action: str, topic: str, topics: Topics, client_id: str | None = None) -> bool:
    """Whether a client of `role` (None: anonymous) may `action` the topic (a filter for subscribe);
    `client_id`: the connection's MQTT client id (it decides who may announce where)."""
    action = str(action)
    known = _GRANTS.get(role)
    if known is None or action not in ACTIONS or not is_well_formed(action, topic):
        return False
    if presence.is_presence_topic(topic):
        return _presence_allowed(role, action, topic, client_id)
    if role == ROLE_BRIDGE and action == PUBLISH and _is_change_nudge(topic, topics):
        return True
    zones = known.get(action, frozenset())
    return any(_is_under(topic, _prefix(zone, topics)) for zone in zones)


def _presence_allowed(role: str | None, action: str, topic: str, client_id: str | None) -> bool:
    # A name or filter under presence/; filters that reach it from above (`#`, `+/…`) are not
    # confined to any prefix, and the zones deny them to everyone.
    if role == ROLE_BRIDGE:  # the counting service: anything confined to presence/
        return len(topic) > len(presence.PRESENCE_PREFIX) and presence.is_presence_topic(topic)
    return action == PUBLISH and presence.may_announce(client_id, topic)


def _is_change_nudge(topic: str, topics: Topics) -> bool:
    parsed = topics.parse_ingest(topic)
    return parsed is not None and parsed[1] == "changes"


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
