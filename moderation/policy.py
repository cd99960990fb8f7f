"""What happens to a submitted comment. Pure: no IO, no clock, no database.

This is the seam the full policy (blocked terms with evasion-proof normalisation,
bans, reports) plugs into; today it applies the per-video switches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class VideoRules:
    video_status: str  # live / ended
    chat: str  # open / closed
    hold_for_review: bool


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None


def decide(rules: VideoRules, *, author_is_moderator: bool = False) -> Decision:
    if rules.video_status != "live":
        return Decision(Verdict.REJECT, "video_ended")
    if rules.chat != "open" and not author_is_moderator:
        return Decision(Verdict.REJECT, "chat_closed")
    if rules.hold_for_review and not author_is_moderator:
        return Decision(Verdict.HOLD, "hold_for_review")
    return Decision(Verdict.APPROVE)


def screen_text(text: str, video_terms: list[str]) -> Decision | None:
    """Placeholder until the evasion-proof matcher lands: whole words, case-insensitive."""
    words = set(text.casefold().split())
    if any(term.casefold() in words for term in video_terms):
        return Decision(Verdict.REJECT, "blocked_term")
    return None
