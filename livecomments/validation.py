"""Field rules from the contract, as pure functions.

Every identifier and text that can reach a topic name or a viewer's screen passes
through here, in the web app at the door and again in the bridge.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_CODE_POINTS = 500
MAX_NAME_CODE_POINTS = 50

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# ULID: 26 chars of Crockford base32; the first char is at most 7 (128-bit range).
_ULID_RE = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


class FieldError(ValueError):
    """A field breaks a contract rule. `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_valid_id(value: object) -> bool:
    """video_id / user_id: 1-64 chars of [A-Za-z0-9_-]."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def is_valid_ulid(value: object) -> bool:
    return isinstance(value, str) and _ULID_RE.fullmatch(value) is not None


def check_id(field: str, value: object) -> str:
    if not is_valid_id(value):
        raise FieldError(field, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    assert isinstance(value, str)
    return value


def check_ulid(field: str, value: object) -> str:
    if not is_valid_ulid(value):
        raise FieldError(field, "must be a ULID (26 characters of Crockford base32)")
    assert isinstance(value, str)
    return value


def clean_text(field: str, value: object, max_code_points: int = MAX_TEXT_CODE_POINTS) -> str:
    """NFC-normalise and trim; 1..max code points; no control characters but newline."""
    if not isinstance(value, str):
        raise FieldError(field, "must be a string")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise FieldError(field, "must not be empty")
    if len(text) > max_code_points:
        raise FieldError(field, f"must be at most {max_code_points} characters")
    for ch in text:
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise FieldError(field, f"must not contain control characters (U+{ord(ch):04X})")
    return text


def clean_name(value: object) -> str:
    return clean_text("name", value, MAX_NAME_CODE_POINTS)
