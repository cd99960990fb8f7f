"""The blocked-terms screen: does a comment's text hold one of the video's terms or a term of
the maintained library list (matched through their disguises by moderation.terms)? Pure.

The web app screens at the door (422) before a comment is accepted; the bridge screens the
texts of a batch before its transaction (bridge.apply.prescreen). What was found goes into
`moderation.decision.decide` as `Post.blocked`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TypeAlias

from moderation.decision import Decision, Reason, Verdict
from moderation.library import library_matcher
from moderation.terms import TermMatcher, prepare

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
    """REJECT `blocked_term` (with the match) if `text` contains one of the video's terms or a
    library term, else None.

    `video_terms`: the video's blocked_terms (strings, or a matcher the caller keeps).
    `library`: the library list's matcher; None means the default one (moderation.library),
    an empty TermMatcher(()) means none.
    """
    prepared = prepare(text)  # normalised once for both lists
    for matcher in (matcher_for(video_terms), library_matcher() if library is None else library):
        found = matcher.find(prepared)
        if found is not None:
            return Decision(Verdict.REJECT, Reason.BLOCKED_TERM, match=found)
    return None


WARM_UP_TEXT = "a first comment, screened at start"


def warm_up() -> None:
    """Build what screening builds on first use (the library list's matcher, the normaliser's
    tables), so that a process pays it while it starts, not on the first comments it takes
    (measured: ~0.1 s of CPU, and more where the first requests arrive together)."""
    screen_text(WARM_UP_TEXT)
