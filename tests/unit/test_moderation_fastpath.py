"""The fast path of the matcher gives exactly the answers of the full one (Hypothesis). Pure.

`normalize.outline` must equal the first readings of `normalize.units`, and
`TermMatcher.find` (which first proves no match from the outline) must equal
`TermMatcher._find_exact` (every text through its full units, the matcher as it was).
"""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from moderation.library import library_matcher, library_terms  # noqa: E402
from moderation.normalize import outline, units  # noqa: E402
from moderation.screen import screen_text  # noqa: E402
from moderation.terms import TermMatcher, _text_key, prepare  # noqa: E402

SETTINGS = settings(database=None, deadline=None, max_examples=300)
VIDEO = TermMatcher(["zorblax", "quux", "red herring", "g spot", "666", "a b", "ass"], allow=["red herrings day"])
MATCHERS = (VIDEO, library_matcher(), TermMatcher(["2g1c", "s h i t", "x"]))

# what comments are made of: letters, leet digits and symbols, separators, look-alikes,
# invisibles, marks, scripts without spaces, emoji, and numerals that are not digits
PIECES = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@$|+!€£¢ .-_*,?'#<>")
    + list("аеорсхуіѕһјαεοιυνκᴀʙɪᴛｆｕｃｋＡ４ßﬁ½²①Ⅻıłøɡ")
    + list("\u200b\u200d\u202e\ufeff\xad\u0301\u0336\u3164")
    + list("你好世界ひらがなカタカナไทย🅰🇦😂🙏👋৴𐄇\u3000\u00a0")
)
TEXTS = st.text(alphabet=st.sampled_from(PIECES), max_size=60)
LIBRARY = sorted(library_terms())
LEET = str.maketrans("aeiostlbg", "@3!05+|86")
CYRILLIC = str.maketrans("aceopxyi", "асеорхуі")
DISGUISES = (
    lambda w: w,
    str.upper,
    lambda w: w.translate(LEET),
    lambda w: w.translate(CYRILLIC),
    lambda w: " ".join(w),
    lambda w: ".".join(w.translate(LEET)),
    lambda w: "".join(c * 3 for c in w),
    lambda w: "".join(c + c for c in w),
    lambda w: "\u200b".join(w),
    lambda w: "".join(chr(ord(c) - 0x61 + 0xFF41) if "a" <= c <= "z" else c for c in w),
    lambda w: w + "s",
    lambda w: w + "es",
    lambda w: w[:-1],
    lambda w: w.replace(" ", ""),
    lambda w: w.replace("i", "I").replace("l", "1"),
)
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?'", max_size=30)


def _reference_outline(text: str) -> tuple[tuple[str, bool], ...]:
    return tuple((u.text, u.spaced) for u in units(text))


def _same_answers(text: str) -> None:
    for matcher in MATCHERS:
        assert matcher.find(text) == matcher._find_exact(text), (matcher, text)


@SETTINGS
@given(TEXTS)
@example("sh!t I <3 u, gg wp")
@example("Straße ½ ৴ x 𐄇 a")
@example("你好世界 z o r b l a x")
def test_outline_is_the_first_reading_of_the_units(text: str) -> None:
    found = outline(text)
    if found is not None:
        assert found == _reference_outline(text)


@SETTINGS
@given(st.text(max_size=200))
def test_outline_of_any_text(text: str) -> None:
    found = outline(text)
    assert found is None or found == _reference_outline(text)
    if text.isascii():
        assert found is not None


@SETTINGS
@given(TEXTS)
@example("gg wp, see you all tomorrow")
@example("as is")
@example("a b c d r e d h e r r i n g")
def test_find_answers_as_the_full_matcher_on_any_text(text: str) -> None:
    _same_answers(text)


@SETTINGS
@given(st.text(max_size=120))
def test_find_answers_as_the_full_matcher_on_unicode(text: str) -> None:
    _same_answers(text)


@SETTINGS
@given(WORDS, st.sampled_from(LIBRARY + list(VIDEO.terms)), st.sampled_from(DISGUISES), WORDS, st.data())
def test_find_answers_as_the_full_matcher_on_disguised_terms(
    before: str, term: str, disguise: object, after: str, data: st.DataObject
) -> None:
    assert callable(disguise)
    disguised = str(disguise(term))
    glue = data.draw(st.sampled_from([" ", ", ", " a ", " I ", "\u200b", ""]))
    _same_answers(f"{before}{glue}{disguised}{glue}{after}")


@SETTINGS
@given(st.lists(st.sampled_from(LIBRARY), min_size=1, max_size=3), st.sampled_from(DISGUISES))
def test_find_answers_as_the_full_matcher_on_runs_of_terms(terms: list[str], disguise: object) -> None:
    assert callable(disguise)
    _same_answers(" ".join(str(disguise(t)) for t in terms))


@SETTINGS
@given(TEXTS)
def test_a_prepared_text_answers_as_the_text(text: str) -> None:
    prepared = prepare(text)
    for matcher in MATCHERS:
        assert matcher.find(prepared) == matcher.find(text)
    decision = screen_text(text, VIDEO)
    expected = VIDEO._find_exact(text) or library_matcher()._find_exact(text)
    assert (decision.match if decision is not None else None) == expected


def _stretch_keys(letters: str) -> set[str]:
    """The key of every stretch letters[lo:hi], the slow way."""
    return {_text_key(letters[lo:hi]) for lo in range(len(letters)) for hi in range(lo + 1, len(letters) + 1)}


@SETTINGS
@given(st.text(alphabet="abcdefghiklmnorstuxz", max_size=30), st.sampled_from(MATCHERS))
@example("azorblaxa", VIDEO)
@example("xxshiity", MATCHERS[2])
@example("zorblaxes", VIDEO)
@example("iasses", MATCHERS[1])
def test_the_spaced_letters_scan_finds_every_key_of_a_stretch(letters: str, matcher: TermMatcher) -> None:
    index = matcher._blocked
    assert index._inside_may(letters) == bool(_stretch_keys(letters) & index.inside_keys)
