"""Packing submissions into ingest messages (pure), read back by the bridge's decoder."""

from __future__ import annotations

import orjson
from ulid import ULID

from livecomments.wire import MAX_INGEST_ARRAY, MAX_INGEST_BYTES, Submission, decode_submissions
from webapp.publisher import ingest_messages


def sub(video: str = "v1", text: str = "hello") -> Submission:
    return Submission(str(ULID()), video, "u1", "Alice", text, None, 1764000000000)


def test_a_lone_submission_is_a_plain_object() -> None:
    one = sub()
    [(video, payload)] = list(ingest_messages([one]))
    assert video == "v1" and orjson.loads(payload) == orjson.loads(one.to_json())
    assert decode_submissions(payload, "v1") == ([one], [])


def test_submissions_are_packed_per_video_in_order() -> None:
    subs = [sub("v1"), sub("v2"), sub("v1"), sub("v1"), sub("v2")]
    messages = list(ingest_messages(subs))
    assert [v for v, _ in messages] == ["v1", "v2"]
    decoded = {v: decode_submissions(p, v)[0] for v, p in messages}
    assert decoded == {"v1": [subs[0], subs[2], subs[3]], "v2": [subs[1], subs[4]]}


def test_arrays_stay_within_both_limits() -> None:
    subs = [sub(text="x") for _ in range(2 * MAX_INGEST_ARRAY + 1)]
    messages = [p for _, p in ingest_messages(subs)]
    counts = [len(decode_submissions(p, "v1")[0]) for p in messages]
    assert all(1 <= n <= MAX_INGEST_ARRAY for n in counts) and all(len(p) <= MAX_INGEST_BYTES for p in messages)
    for message, following in zip(messages, messages[1:], strict=False):  # each as full as the limits allow
        next_one = decode_submissions(following, "v1")[0][0].to_json()
        n = len(decode_submissions(message, "v1")[0])
        assert n == MAX_INGEST_ARRAY or len(message) + 1 + len(next_one) > MAX_INGEST_BYTES
    assert [s for p in messages for s in decode_submissions(p, "v1")[0]] == subs


def test_arrays_stay_within_the_size_limit() -> None:
    subs = [sub(text="🙂" * 500) for _ in range(12)]  # about 2 KiB each
    messages = [p for _, p in ingest_messages(subs)]
    assert len(messages) > 1 and all(len(p) <= MAX_INGEST_BYTES for p in messages)
    assert [s for p in messages for s in decode_submissions(p, "v1")[0]] == subs
