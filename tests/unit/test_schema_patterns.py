"""The OpenAPI document's patterns say exactly what the server's rules accept: a text pattern
matches what livecomments.validation.clean_text accepts (NFC-stable strings: the server counts
after normalising), the Idempotency-Key pattern what the post path accepts (as HTTP delivers
it, without spaces at either end)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from livecomments.validation import FieldError, clean_text
from webapp.schemas import header_pattern, text_pattern

LIMIT = 6
TEXT = re.compile(text_pattern(LIMIT))
KEY_LIMIT = 8
KEY = re.compile(header_pattern(KEY_LIMIT))

# What makes the rules differ: whitespace of every kind, control characters, plain letters.
_TRICKY = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u202f\u3000\ufeff\x00\x7f\x9f\xadaZé😀"
texts = st.text(alphabet=st.sampled_from(_TRICKY), max_size=LIMIT + 4) | st.text(max_size=LIMIT + 4)


def _accepted(value: str) -> bool:
    try:
        clean_text("text", value, LIMIT)
    except FieldError:
        return False
    return True


@settings(max_examples=400, derandomize=True)
@given(texts)
@example("a" * LIMIT)
@example(" " + "a" * LIMIT + "\n")
@example("a" * (LIMIT + 1))
@example("\x1c a \x85")
@example("a\tb")
def test_the_text_pattern_is_clean_text(value: str) -> None:
    if unicodedata.normalize("NFC", value) != value:
        return
    assert bool(TEXT.fullmatch(value)) is _accepted(value)


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=KEY_LIMIT + 2))
@example("a b")
@example("é")
@example("a\tb")
def test_the_key_pattern_is_the_posts_rule(value: str) -> None:
    if value != value.strip(" \t"):
        return  # HTTP hands the server the value without them
    accepted = 1 <= len(value) <= KEY_LIMIT and value.isprintable()  # webapp.comments._idempotency_key
    assert bool(KEY.fullmatch(value)) is accepted
