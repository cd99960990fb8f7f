"""The ingest message forms: one submission object, or an array of 1-100 of them (pure)."""

from __future__ import annotations

import orjson
import pytest
from ulid import ULID

from bridge.inbox import Inbox
from livecomments.validation import FieldError
from livecomments.wire import (
    MAX_INGEST_BYTES,
    Submission,
    decode_submission,
    decode_submissions,
    submissions_to_json,
)


def sub(text: str = "hello", video: str = "v1", parent: str | None = None) -> Submission:
    return Submission(str(ULID()), video, "u1", "Alice", text, parent, 1764000000000)


def doc(**over: object) -> dict[str, object]:
    d = sub().to_doc()
    d.update(over)
    return d


def test_one_object_is_still_one_submission() -> None:
    one = sub()
    assert decode_submissions(one.to_json(), "v1") == ([one], [])
    assert decode_submission(one.to_json(), "v1") == one


def test_an_array_round_trips_through_submissions_to_json() -> None:
    subs = [sub(f"comment {i}", parent=None if i % 2 else str(ULID())) for i in range(5)]
    payload = submissions_to_json(subs)
    assert orjson.loads(payload)[0] == subs[0].to_doc()
    assert decode_submissions(payload, "v1") == (subs, [])


def test_invalid_elements_are_dropped_and_the_valid_ones_kept() -> None:
    good = [sub("a"), sub("b")]
    payload = orjson.dumps([
        good[0].to_doc(), doc(id="nope"), "not an object", doc(video_id="v2"), doc(text=""), good[1].to_doc(),
    ])
    subs, errors = decode_submissions(payload, "v1")
    assert subs == good
    assert [e.field for e in errors] == ["id", "payload", "video_id", "text"]


def test_each_element_is_cleaned_like_a_single_submission() -> None:
    subs, errors = decode_submissions(orjson.dumps([doc(text="  e\u0301  ")]), "v1")
    assert errors == [] and subs[0].text == "\u00e9"


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        orjson.dumps([doc() for _ in range(101)]),
        b"[" + b",".join(orjson.dumps(doc(text="x" * 400)) for _ in range(20)) + b"]",  # over 8 KiB
        b"not json",
        b"\xff",
        b"7",
        b'"a string"',
        orjson.dumps(doc(id="nope")),  # the single form: the message is the submission
    ],
)
def test_unusable_messages_are_rejected_whole(payload: bytes) -> None:
    with pytest.raises(FieldError):
        decode_submissions(payload, "v1")


def test_a_full_array_under_the_byte_limit() -> None:
    subs = [sub(f"c{i}") for i in range(55)]
    payload = submissions_to_json(subs)
    assert len(payload) <= MAX_INGEST_BYTES  # the byte limit, not the count, binds first
    assert decode_submissions(payload, "v1")[0] == subs


def test_inbox_keeps_valid_elements_and_lists_the_invalid() -> None:
    inbox = Inbox()
    good = sub()
    inbox.add(("v1", "comments"), orjson.dumps([good.to_doc(), doc(ts="now")]))
    inbox.add(("v1", "comments"), sub("single").to_json())
    assert [s.text for s in inbox.submissions] == ["hello", "single"]
    assert [e.field for e in inbox.invalid] == ["ts"]
    with pytest.raises(FieldError):
        inbox.add(("v1", "comments"), b"[]")
