"""Properties of the blocked-terms matcher over generated text (Hypothesis). Pure."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from moderation.library import library_matcher  # noqa: E402
from moderation.normalize import skeleton  # noqa: E402
from moderation.terms import TermMatcher  # noqa: E402

SETTINGS = settings(database=None, deadline=None, max_examples=200)
TERMS = ["zorblax", "quux", "red herring"]
MATCHER = TermMatcher(TERMS)
INVISIBLE = st.sampled_from(list("\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2060\u2066\u2069\ufeff\xad"))
# every way a letter may be written that the matcher must still read as that letter
LOOKALIKES = {
    "a": "aAａ4@аα",
    "b": "bBｂ8ʙ",
    "d": "dDｄԁ",
    "e": "eEｅ3еε",
    "g": "gGｇ96ɡ",
    "h": "hHｈһ",
    "i": "iIｉ1!|іι",
    "l": "lLｌ1|Ι",
    "n": "nNｎ",
    "o": "oOｏ0оο",
    "q": "qQｑԛ",
    "r": "rRｒ",
    "u": "uUｕυ",
    "x": "xXｘх",
    "z": "zZｚ",
}
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?'", max_size=40)


def _interleave(text: str, fillers: list[str]) -> str:
    out = []
    for k, ch in enumerate(text):
        out.append(ch)
        out.append(fillers[k % len(fillers)] if fillers else "")
    return "".join(out)


@SETTINGS
@given(st.text(max_size=500))
def test_find_never_fails_and_points_into_the_text(text: str) -> None:
    for matcher in (MATCHER, library_matcher()):
        found = matcher.find(text)
        if found is not None:
            assert 0 <= found.start < found.end <= len(text)


@SETTINGS
@given(st.text(max_size=200), st.lists(INVISIBLE, max_size=20))
def test_invisible_characters_change_nothing(text: str, fillers: list[str]) -> None:
    assert skeleton(_interleave(text, fillers)) == skeleton(text)


@SETTINGS
@given(WORDS, st.sampled_from(TERMS), WORDS, st.lists(INVISIBLE, min_size=1, max_size=10))
def test_invisible_characters_never_hide_a_term(before: str, term: str, after: str, fillers: list[str]) -> None:
    text = f"{before} {_interleave(term, fillers)} {after}"
    assert MATCHER.find(text) is not None


@SETTINGS
@given(WORDS, st.sampled_from(TERMS), WORDS, st.data())
def test_look_alikes_never_hide_a_term(before: str, term: str, after: str, data: st.DataObject) -> None:
    disguised = "".join(data.draw(st.sampled_from(LOOKALIKES[c])) if c in LOOKALIKES else c for c in term)
    assert MATCHER.find(f"{before} {disguised} {after}") is not None


@SETTINGS
@given(
    WORDS,
    st.sampled_from(["zorblax", "quux"]),
    WORDS,
    st.lists(st.sampled_from([" ", ".", "-", "_", "*", " . ", "  "]), min_size=1, max_size=6),
)
def test_spacing_letters_out_never_hides_a_term(before: str, term: str, after: str, separators: list[str]) -> None:
    spaced = "".join(c + separators[k % len(separators)] for k, c in enumerate(term)).rstrip("".join(separators))
    assert MATCHER.find(f"{before}, {spaced} ,{after}") is not None


@SETTINGS
@given(WORDS, st.sampled_from(TERMS), WORDS, st.lists(st.integers(1, 4), min_size=11, max_size=11))
def test_repeating_letters_never_hides_a_term(before: str, term: str, after: str, counts: list[int]) -> None:
    stretched = "".join(c * max(counts[k], 2 if c not in "aeiou " else 1) for k, c in enumerate(term))
    assert MATCHER.find(f"{before} {stretched} {after}") is not None
