"""The one moderation decision (moderation.decision.decide), pure: a table of cases, the order
of its rules, and reasons whose values are the strings stored and documented."""

from __future__ import annotations

import pytest

from moderation.decision import (
    APPROVED,
    Ban,
    Decision,
    Parent,
    Post,
    Reason,
    Verdict,
    VideoRules,
    chat_refusal,
    decide,
    parent_refusal,
)
from moderation.terms import Match

NOW = 1_764_000_000_000
LIVE = VideoRules("live", "open")
HELD = VideoRules("live", "open", hold_for_review=True)
CLOSED = VideoRules("live", "closed")
CLOSED_HELD = VideoRules("live", "closed", hold_for_review=True)
ENDED = VideoRules("ended", "open")
ENDED_CLOSED = VideoRules("ended", "closed")  # as ending a video leaves it

TERM = Match("zorblax", 0, 7)
TOP = Parent("v1", None, "approved")


def post(
    moderator: bool = False,
    parent: Parent | None = None,
    parent_id: str | None = None,
    ban: Ban | None = None,
    blocked: Match | None = None,
) -> Post:
    if parent is not None and parent_id is None:
        parent_id = "P"
    return Post("v1", moderator, parent_id, parent, ban, blocked)


def reject(reason: Reason) -> Decision:
    return Decision(Verdict.REJECT, reason)


@pytest.mark.parametrize(
    ("video", "p", "expected"),
    [
        # 1, 2: the video's switches; an ended video refuses moderators too, a closed chat does not
        (LIVE, post(), APPROVED),
        (LIVE, post(moderator=True), APPROVED),
        (CLOSED, post(), reject(Reason.CHAT_CLOSED)),
        (CLOSED, post(moderator=True), APPROVED),
        (ENDED, post(), reject(Reason.VIDEO_ENDED)),
        (ENDED, post(moderator=True), reject(Reason.VIDEO_ENDED)),
        (ENDED_CLOSED, post(), reject(Reason.VIDEO_ENDED)),
        (ENDED_CLOSED, post(moderator=True), reject(Reason.VIDEO_ENDED)),
        # 3: blocked terms bind everyone, after the switches, before the rest
        (LIVE, post(blocked=TERM), reject(Reason.BLOCKED_TERM)),
        (LIVE, post(moderator=True, blocked=TERM), reject(Reason.BLOCKED_TERM)),
        (CLOSED, post(moderator=True, blocked=TERM), reject(Reason.BLOCKED_TERM)),
        (CLOSED, post(blocked=TERM), reject(Reason.CHAT_CLOSED)),
        (ENDED, post(moderator=True, blocked=TERM), reject(Reason.VIDEO_ENDED)),
        (HELD, post(blocked=TERM), reject(Reason.BLOCKED_TERM)),  # rejecting beats holding
        (LIVE, post(blocked=TERM, ban=Ban(None), parent_id="gone"), reject(Reason.BLOCKED_TERM)),
        # 4: the parent: an approved top-level comment of the same video
        (LIVE, post(parent=TOP), APPROVED),
        (LIVE, post(parent_id="gone"), reject(Reason.UNKNOWN_PARENT)),
        (LIVE, post(parent=Parent("v2", None, "approved")), reject(Reason.UNKNOWN_PARENT)),
        (LIVE, post(parent=Parent("v1", None, "pending")), reject(Reason.PARENT_UNAVAILABLE)),
        (LIVE, post(parent=Parent("v1", None, "held")), reject(Reason.PARENT_UNAVAILABLE)),
        (LIVE, post(parent=Parent("v1", None, "rejected")), reject(Reason.PARENT_UNAVAILABLE)),
        (LIVE, post(parent=Parent("v1", None, "deleted")), reject(Reason.PARENT_UNAVAILABLE)),
        (LIVE, post(parent=Parent("v1", "T", "approved")), reject(Reason.REPLY_TO_REPLY)),
        (LIVE, post(parent=Parent("v1", "T", "held")), reject(Reason.PARENT_UNAVAILABLE)),  # not visible first
        (LIVE, post(moderator=True, parent_id="gone"), reject(Reason.UNKNOWN_PARENT)),  # moderators too
        (CLOSED, post(moderator=True, parent=TOP), APPROVED),
        (CLOSED, post(parent_id="gone"), reject(Reason.CHAT_CLOSED)),
        # 5: bans, in force without an end or until a time after now
        (LIVE, post(ban=Ban(None)), reject(Reason.BANNED)),
        (LIVE, post(ban=Ban(NOW + 1)), reject(Reason.BANNED)),
        (LIVE, post(ban=Ban(NOW)), APPROVED),  # over at its end
        (LIVE, post(ban=Ban(NOW - 1)), APPROVED),
        (LIVE, post(moderator=True, ban=Ban(None)), reject(Reason.BANNED)),
        (LIVE, post(parent_id="gone", ban=Ban(None)), reject(Reason.UNKNOWN_PARENT)),  # the parent first
        (CLOSED, post(ban=Ban(None)), reject(Reason.CHAT_CLOSED)),
        # 6: hold for review, not moderators' comments
        (HELD, post(), Decision(Verdict.HOLD, Reason.HOLD_FOR_REVIEW)),
        (HELD, post(moderator=True), APPROVED),
        (HELD, post(parent=TOP), Decision(Verdict.HOLD, Reason.HOLD_FOR_REVIEW)),
        (HELD, post(ban=Ban(None)), reject(Reason.BANNED)),
        (CLOSED_HELD, post(moderator=True), APPROVED),
        (CLOSED_HELD, post(), reject(Reason.CHAT_CLOSED)),
    ],
)
def test_decide(video: VideoRules, p: Post, expected: Decision) -> None:
    assert decide(video, p, now_ms=NOW) == expected


def test_the_chat_rule_alone_is_decides_first_step() -> None:
    for video in (LIVE, HELD, CLOSED, ENDED, ENDED_CLOSED):
        for moderator in (False, True):
            reason = chat_refusal(video, moderator)
            got = decide(video, post(moderator=moderator), now_ms=NOW)
            assert (got.reason if got.verdict is Verdict.REJECT else None) == reason


def test_the_parent_rule_alone() -> None:
    assert parent_refusal(post()) is None
    assert parent_refusal(post(parent=TOP)) is None
    assert parent_refusal(post(parent_id="gone")) is Reason.UNKNOWN_PARENT


def test_a_blocked_term_decision_says_which_term_and_where() -> None:
    decision = decide(LIVE, post(blocked=TERM))
    assert decision.match == TERM and decision == reject(Reason.BLOCKED_TERM)


def test_without_a_post_it_is_a_viewers_top_level_comment() -> None:
    assert decide(LIVE) == APPROVED
    assert decide(CLOSED) == reject(Reason.CHAT_CLOSED)


def test_reasons_are_the_strings_stored_and_documented() -> None:
    """Byte for byte what comments.reason holds today and what docs/contract.md names."""
    assert {r.value for r in Reason} == {
        "video_ended", "chat_closed", "blocked_term", "unknown_parent", "parent_unavailable", "reply_to_reply",
        "banned", "hold_for_review",
    }  # fmt: skip
    assert Reason("chat_closed") is Reason.CHAT_CLOSED and f"{Reason.BANNED}" == "banned"
    assert [v.value for v in Verdict] == ["approve", "hold", "reject"]
