"""The broker's access rules (broker.acl), exhaustively: every role x action x kind of topic."""

from __future__ import annotations

import itertools

import pytest

from broker import acl
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE
from livecomments.topics import Topics

T = Topics()
ANON = None
ROLES = (ANON, ROLE_BRIDGE, ROLE_SERVICE)

# Concrete topic names, by zone.
LIVE_TOPICS = (
    "live/videos/v1/comments",
    "live/videos/v1/recent",
    "live/videos/v1/reactions",
    "live/videos/v1/state",
    "live/videos/v1/ticker",
    "live/videos/v1/sample",
    "live/x",
    "live//empty-level",
)
INGEST_TOPICS = ("ingest/videos/v1/comments", "ingest/videos/v1/reactions", "ingest/x")
OTHER_TOPICS = (
    "live",  # the prefix's level alone is not under "live/"
    "live/",  # nothing after the prefix
    "ingest",
    "ingest/",
    "livestream/videos/v1/comments",
    "ingestion/videos/v1/comments",
    "Live/videos/v1/comments",  # topics are case-sensitive
    "/live/videos/v1/comments",
    "x/live/videos/v1/comments",
    "$SYS/broker/uptime",
    "$SYS/live/x",
    "videos/v1/comments",
    "other",
)

# Subscription filters, by zone.
LIVE_FILTERS = (
    "live/#",
    "live/+",
    "live/videos/#",
    "live/videos/+/comments",
    "live/videos/+/sample",
    "live/videos/+/+",
    "live/videos/v1/recent",
    "live/+/+/#",
)
INGEST_FILTERS = ("ingest/#", "ingest/videos/+/comments", "ingest/videos/v1/reactions", "ingest/+/+/#")
OTHER_FILTERS = (
    "#",
    "+",
    "+/#",
    "+/videos/#",
    "+/videos/+/comments",
    "$SYS/#",
    "$SYS/+",
    "live",
    "live/",
    "ingest",
    "livestream/#",
    "other/#",
    "/#",
)
MALFORMED_FILTERS = (
    "live/#/x",  # '#' not last
    "live/##",
    "live/a#",
    "live/+x",
    "live/x+",
    "live/++",
    "ingest/videos/#/comments",
    "ingest/a+/b",
)


def expected(role: str | None, action: str, zone: str) -> bool:
    grants = {
        ANON: {"subscribe": {"live"}, "receive": {"live"}},
        ROLE_BRIDGE: {"publish": {"live"}, "subscribe": {"live", "ingest"}, "receive": {"live", "ingest"}},
        ROLE_SERVICE: {"publish": {"ingest"}, "subscribe": {"live"}, "receive": {"live"}},
    }
    return zone in grants[role].get(action, set())


def _cases(topics: tuple[str, ...], zone: str, actions: tuple[str, ...]) -> list[tuple[str | None, str, str, bool]]:
    return [(role, action, topic, expected(role, action, zone)) for role, action, topic in
            itertools.product(ROLES, actions, topics)]


NAME_ACTIONS = (acl.PUBLISH, acl.RECEIVE)


@pytest.mark.parametrize(
    ("role", "action", "topic", "allowed"),
    _cases(LIVE_TOPICS, "live", NAME_ACTIONS)
    + _cases(INGEST_TOPICS, "ingest", NAME_ACTIONS)
    + _cases(OTHER_TOPICS, "none", NAME_ACTIONS),
)
def test_topic_names(role: str | None, action: str, topic: str, allowed: bool) -> None:
    assert acl.is_allowed(role, action, topic, T) is allowed


@pytest.mark.parametrize(
    ("role", "action", "topic", "allowed"),
    _cases(LIVE_FILTERS, "live", (acl.SUBSCRIBE,))
    + _cases(INGEST_FILTERS, "ingest", (acl.SUBSCRIBE,))
    + _cases(OTHER_FILTERS, "none", (acl.SUBSCRIBE,))
    + _cases(MALFORMED_FILTERS, "none", (acl.SUBSCRIBE,)),
)
def test_subscription_filters(role: str | None, action: str, topic: str, allowed: bool) -> None:
    assert acl.is_allowed(role, action, topic, T) is allowed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", acl.ACTIONS)
@pytest.mark.parametrize("topic", ["", "\0", "live/videos/v1/\0comments", "ingest/videos/\0/comments", "live/\0"])
def test_empty_and_nul_topics_are_denied(role: str | None, action: str, topic: str) -> None:
    assert acl.is_allowed(role, action, topic, T) is False


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", [acl.PUBLISH, acl.RECEIVE])
@pytest.mark.parametrize(
    "topic", [f for f in (*LIVE_FILTERS, *INGEST_FILTERS, *OTHER_FILTERS, *MALFORMED_FILTERS) if "+" in f or "#" in f]
)
def test_wildcards_in_topic_names_are_denied(role: str | None, action: str, topic: str) -> None:
    assert acl.is_allowed(role, action, topic, T) is False


@pytest.mark.parametrize("role", ["", "admin", "Bridge", "SERVICE", "anonymous", "none", "bridge "])
@pytest.mark.parametrize("action", acl.ACTIONS)
@pytest.mark.parametrize("topic", ["live/videos/v1/comments", "ingest/videos/v1/comments", "live/#", "ingest/#"])
def test_unknown_roles_are_denied_everything(role: str, action: str, topic: str) -> None:
    assert acl.is_allowed(role, action, topic, T) is False


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["", "PUBLISH", "Subscribe", "connect", "read", "write", "delete", "publish "])
@pytest.mark.parametrize("topic", ["live/videos/v1/comments", "ingest/videos/v1/comments", "live/#"])
def test_unknown_actions_are_denied(role: str | None, action: str, topic: str) -> None:
    assert acl.is_allowed(role, action, topic, T) is False


def test_the_amqtt_action_enum_is_understood() -> None:
    from amqtt.contexts import Action

    assert acl.is_allowed(ANON, Action.SUBSCRIBE, "live/#", T)
    assert acl.is_allowed(ANON, Action.RECEIVE, "live/videos/v1/comments", T)
    assert not acl.is_allowed(ANON, Action.PUBLISH, "live/videos/v1/comments", T)
    assert acl.is_allowed(ROLE_BRIDGE, Action.PUBLISH, "live/videos/v1/comments", T)


CUSTOM = Topics(live_prefix="tv/public/", ingest_prefix="tv/in/")


@pytest.mark.parametrize(
    ("role", "action", "topic", "allowed"),
    [
        (ANON, acl.SUBSCRIBE, "tv/public/#", True),
        (ANON, acl.SUBSCRIBE, "tv/public/videos/+/comments", True),
        (ANON, acl.SUBSCRIBE, "tv/#", False),
        (ANON, acl.SUBSCRIBE, "tv/+/videos/#", False),
        (ANON, acl.SUBSCRIBE, "tv/in/#", False),
        (ANON, acl.SUBSCRIBE, "live/#", False),  # the default prefix means nothing here
        (ANON, acl.RECEIVE, "tv/public/videos/v1/comments", True),
        (ANON, acl.RECEIVE, "live/videos/v1/comments", False),
        (ANON, acl.PUBLISH, "tv/public/videos/v1/comments", False),
        (ROLE_BRIDGE, acl.PUBLISH, "tv/public/videos/v1/comments", True),
        (ROLE_BRIDGE, acl.PUBLISH, "live/videos/v1/comments", False),
        (ROLE_BRIDGE, acl.PUBLISH, "tv/in/videos/v1/comments", False),
        (ROLE_BRIDGE, acl.SUBSCRIBE, "tv/in/videos/+/comments", True),
        (ROLE_BRIDGE, acl.SUBSCRIBE, "tv/+/videos/+/comments", False),
        (ROLE_BRIDGE, acl.RECEIVE, "tv/in/videos/v1/comments", True),
        (ROLE_SERVICE, acl.PUBLISH, "tv/in/videos/v1/comments", True),
        (ROLE_SERVICE, acl.PUBLISH, "ingest/videos/v1/comments", False),
        (ROLE_SERVICE, acl.PUBLISH, "tv/public/videos/v1/comments", False),
        (ROLE_SERVICE, acl.SUBSCRIBE, "tv/in/#", False),
        (ROLE_SERVICE, acl.RECEIVE, "tv/in/videos/v1/comments", False),
    ],
)
def test_prefixes_come_from_the_topics_object(role: str | None, action: str, topic: str, allowed: bool) -> None:
    assert acl.is_allowed(role, action, topic, CUSTOM) is allowed


@pytest.mark.parametrize(
    ("topic_filter", "valid"),
    [
        ("#", True),
        ("+", True),
        ("a/+/b", True),
        ("a/#", True),
        ("+/+/#", True),
        ("a//b", True),
        ("/", True),
        ("a/#/b", False),
        ("a#", False),
        ("a/b#", False),
        ("a+/b", False),
        ("a/++", False),
        ("#/#", False),
    ],
)
def test_filter_syntax(topic_filter: str, valid: bool) -> None:
    assert acl.is_valid_filter(topic_filter) is valid


def test_every_topic_the_project_builds_is_covered() -> None:
    """The topics of the contract, built by Topics, land where the contract says."""
    live = [T.comments("v1"), T.recent("v1"), T.reactions("v1"), T.state("v1"), T.ticker("v1"), T.sample("v1")]
    ingest = [T.ingest_comments("v1"), T.ingest_reactions("v1")]
    for topic in live:
        assert acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, topic, T)
        assert not acl.is_allowed(ROLE_SERVICE, acl.PUBLISH, topic, T)
        assert not acl.is_allowed(ANON, acl.PUBLISH, topic, T)
        assert acl.is_allowed(ANON, acl.RECEIVE, topic, T)
    for topic in ingest:
        assert acl.is_allowed(ROLE_SERVICE, acl.PUBLISH, topic, T)
        assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, topic, T)
        assert acl.is_allowed(ROLE_BRIDGE, acl.RECEIVE, topic, T)
        assert not acl.is_allowed(ANON, acl.RECEIVE, topic, T)
        assert not acl.is_allowed(ROLE_SERVICE, acl.RECEIVE, topic, T)
    assert acl.is_allowed(ANON, acl.SUBSCRIBE, T.live_filter, T)
    assert acl.is_allowed(ROLE_BRIDGE, acl.SUBSCRIBE, T.ingest_comments_filter, T)
    assert not acl.is_allowed(ROLE_SERVICE, acl.SUBSCRIBE, T.ingest_comments_filter, T)
    assert not acl.is_allowed(ANON, acl.SUBSCRIBE, T.ingest_comments_filter, T)


# --- presence/: a client announces only itself; only the bridge reads it --------------------

PRESENCE = "presence/videos/v1/viewer-1"


@pytest.mark.parametrize("role", [ANON, ROLE_SERVICE])  # the bridge may publish anything there (below)
def test_a_client_may_announce_only_its_own_client_id(role: str | None) -> None:
    assert acl.is_allowed(role, acl.PUBLISH, PRESENCE, T, client_id="viewer-1")
    assert acl.is_allowed(role, acl.PUBLISH, "presence/videos/another-video/viewer-1", T, client_id="viewer-1")
    for client_id in ("viewer-2", "viewer-1x", "iewer-1", "", None):
        assert not acl.is_allowed(role, acl.PUBLISH, PRESENCE, T, client_id=client_id), (role, client_id)


@pytest.mark.parametrize("role", [ANON, ROLE_SERVICE])
@pytest.mark.parametrize(
    "topic",
    ["presence/videos/v1", "presence/videos/v1/viewer-1/x", "presence/x/v1/viewer-1", "presence/viewer-1",
     "presence/videos//viewer-1", "presence/videos/v.1/viewer-1", "presence/", "presence"],
)
def test_anything_else_under_presence_is_denied(role: str | None, topic: str) -> None:
    assert not acl.is_allowed(role, acl.PUBLISH, topic, T, client_id="viewer-1")


@pytest.mark.parametrize("role", [ANON, ROLE_SERVICE])
@pytest.mark.parametrize("topic_filter", ["presence/#", "presence/videos/+/+", "presence/videos/v1/+", PRESENCE,
                                          "presence/+/#", "#", "+/videos/+/+"])
def test_only_the_bridge_reads_presence(role: str | None, topic_filter: str) -> None:
    assert not acl.is_allowed(role, acl.SUBSCRIBE, topic_filter, T, client_id="viewer-1")
    assert not acl.is_allowed(role, acl.RECEIVE, PRESENCE, T, client_id="viewer-1")


def test_the_bridge_counts_presence_and_nudges_the_owner() -> None:
    assert acl.is_allowed(ROLE_BRIDGE, acl.SUBSCRIBE, "presence/videos/+/+", T)
    assert acl.is_allowed(ROLE_BRIDGE, acl.SUBSCRIBE, "presence/#", T)
    assert acl.is_allowed(ROLE_BRIDGE, acl.RECEIVE, PRESENCE, T)
    assert acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, PRESENCE, T, client_id="the-bridge")  # clears a retained one
    assert not acl.is_allowed(ROLE_BRIDGE, acl.SUBSCRIBE, "presence", T)
    assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, "presence/", T)
    # the nudge to the video's owner, and nothing else of ingest/
    assert acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, T.ingest_changes("v1"), T)
    assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, T.ingest_comments("v1"), T)
    assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, T.ingest_reactions("v1"), T)
    assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, "ingest/videos/v1/changes/x", T)
    assert not acl.is_allowed(ROLE_SERVICE, acl.SUBSCRIBE, "presence/#", T)
    assert not acl.is_allowed(ANON, acl.PUBLISH, T.ingest_changes("v1"), T)


@pytest.mark.parametrize("action", ["", "delete", "PUBLISH", "read"])
def test_unknown_actions_are_denied_on_presence(action: str) -> None:
    assert not acl.is_allowed(ROLE_BRIDGE, action, PRESENCE, T, client_id="viewer-1")
    assert not acl.is_allowed(ANON, action, PRESENCE, T, client_id="viewer-1")


def test_presence_rules_hold_under_custom_prefixes() -> None:
    assert acl.is_allowed(ANON, acl.PUBLISH, PRESENCE, CUSTOM, client_id="viewer-1")
    assert not acl.is_allowed(ANON, acl.SUBSCRIBE, "presence/#", CUSTOM)
    assert acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, CUSTOM.ingest_changes("v1"), CUSTOM)
    assert not acl.is_allowed(ROLE_BRIDGE, acl.PUBLISH, T.ingest_changes("v1"), CUSTOM)
