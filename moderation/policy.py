"""What happens to a submitted comment. Pure: no IO, no clock, no database.

`decide` applies the per-video switches and the blocked terms (the video's own and the
maintained library list, matched through their disguises by moderation.terms);
`screen_text` is the blocked-terms part alone, for the web app to refuse a comment at
the door (422) before it is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TypeAlias

from moderation.library import library_matcher
from moderation.terms import Match, TermMatcher, prepare

BLOCKED_TERM = "blocked_term"


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
    # For a blocked term: which term, and where in the text. Not part of equality, so
    # Decision(Verdict.REJECT, "blocked_term") compares equal whatever the term was.
    match: Match | None = field(default=None, compare=False)


Terms: TypeAlias = TermMatcher | Iterable[str]


@lru_cache(maxsize=256)
def _matcher(terms: tuple[str, ...]) -> TermMatcher:
    return TermMatcher(terms)


def matcher_for(terms: Terms) -> TermMatcher:
    """A matcher for a video's term list, built once per distinct list and kept (LRU)."""
    if isinstance(terms, TermMatcher):
        return terms
    return _matcher(tuple(terms))


def screen_text(text: str, video_terms: Terms = (), *, library: TermMatcher | None = None) -> Decision | None:
    """REJECT "blocked_term" if `text` contains one of the video's terms or a library term, else None.

    `video_terms`: the video's blocked_terms (strings, or a matcher the caller keeps).
    `library`: the library list's matcher; None means the default one (moderation.library),
    an empty TermMatcher(()) means none.
    """
    prepared = prepare(text)  # normalised once for both lists
    for matcher in (matcher_for(video_terms), library_matcher() if library is None else library):
        found = matcher.find(prepared)
        if found is not None:
            return Decision(Verdict.REJECT, BLOCKED_TERM, match=found)
    return None


def decide(
    rules: VideoRules,
    *,
    author_is_moderator: bool = False,
    text: str | None = None,
    video_terms: Terms = (),
    library: TermMatcher | None = None,
) -> Decision:
    """The verdict on one comment.

    In order: a video that is not live rejects; closed chat rejects (moderators may
    still post); a blocked term in `text` rejects, whoever wrote it; hold_for_review
    holds (not moderators); otherwise approve. Without `text`, terms are not checked.
    """
    if rules.video_status != "live":
        return Decision(Verdict.REJECT, "video_ended")
    if rules.chat != "open" and not author_is_moderator:
        return Decision(Verdict.REJECT, "chat_closed")
    if text is not None:
        screened = screen_text(text, video_terms, library=library)
        if screened is not None:
            return screened
    if rules.hold_for_review and not author_is_moderator:
        return Decision(Verdict.HOLD, "hold_for_review")
    return Decision(Verdict.APPROVE)
