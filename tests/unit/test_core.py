"""Pure units: field rules, topics, payload codecs, moderation switches, the recent window."""

from __future__ import annotations

import orjson
import pytest

from bridge.recent import RecentWindow
from livecomments.config import ConfigError, Settings
from livecomments.topics import Topics
from livecomments.validation import FieldError, clean_text, is_valid_id, is_valid_ulid
from livecomments.wire import decode_submission, encode_batch, ticker_text
from moderation.decision import Verdict, VideoRules, decide

ULID = "01JDQ3ZK4W8Y5D1X6V7N2M3P4Q"


@pytest.mark.parametrize("value", ["v1", "a", "A-b_9", "x" * 64])
def test_valid_ids(value: str) -> None:
    assert is_valid_id(value)


@pytest.mark.parametrize("value", ["", "a+b", "a#b", "a/b", "x" * 65, "a\0b", "a b", "é", None, 5, "$SYS"])
def test_hostile_ids(value: object) -> None:
    assert not is_valid_id(value)


@pytest.mark.parametrize("value", [ULID, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"])
def test_ulids(value: str) -> None:
    assert is_valid_ulid(value)


@pytest.mark.parametrize("value", ["", ULID.lower(), ULID[:-1], "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", ULID[:-1] + "U"])
def test_bad_ulids(value: str) -> None:
    assert not is_valid_ulid(value)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  hello  ", "hello"),
        ("line1\nline2", "line1\nline2"),
        ("e\u0301", "\u00e9"),  # NFC
        ("x" * 500, "x" * 500),
        ("😀" * 500, "😀" * 500),  # code points, not bytes
    ],
)
def test_clean_text_accepts(raw: str, clean: str) -> None:
    assert clean_text("text", raw) == clean


@pytest.mark.parametrize(
    "raw", ["", "   ", "\n\t ", "x" * 501, "a\x00b", "a\x07", "a\x1b[31m", "a\rb", "a\tb", 5, None]
)
def test_clean_text_rejects(raw: object) -> None:
    with pytest.raises(FieldError):
        clean_text("text", raw)


def _submission(**over: object) -> bytes:
    doc: dict[str, object] = {
        "id": ULID,
        "video_id": "v1",
        "user": {"id": "u1", "name": "Alice"},
        "text": "hello",
        "parent_id": None,
        "ts": 1764000000000,
    }
    doc.update(over)
    return orjson.dumps(doc)


def test_decode_submission() -> None:
    sub = decode_submission(_submission(text="  hi  "), "v1")
    assert (sub.id, sub.video_id, sub.user_id, sub.user_name, sub.text) == (ULID, "v1", "u1", "Alice", "hi")


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"x" * (8 * 1024 + 1),
        _submission(id="nope"),
        _submission(video_id="a/b"),
        _submission(video_id="v2"),  # does not match the topic
        _submission(user={"id": "u+1", "name": "A"}),
        _submission(user="alice"),
        _submission(text=""),
        _submission(text=7),
        _submission(parent_id="x"),
        _submission(ts="now"),
        _submission(ts=True),
        _submission(ts=-1),
    ],
)
def test_decode_submission_rejects(payload: bytes) -> None:
    with pytest.raises(FieldError):
        decode_submission(payload, "v1")


def test_topics_build_only_from_valid_ids() -> None:
    t = Topics()
    assert t.comments("v1") == "live/videos/v1/comments"
    assert t.ingest_comments("v1") == "ingest/videos/v1/comments"
    assert t.video_of_ingest("ingest/videos/v1/comments") == "v1"
    assert t.video_of_ingest("live/videos/v1/comments") is None
    assert t.video_of_ingest("ingest/videos/a/b/comments") is None
    for bad in ("a/b", "a+b", "#", ""):
        with pytest.raises(FieldError):
            t.comments(bad)


@pytest.mark.parametrize("prefixes", [("live", "ingest/"), ("live/#/", "ingest/"), ("x/", "x/y/")])
def test_bad_prefixes(prefixes: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        Topics(*prefixes)


def test_settings_from_env() -> None:
    env = {"LIVECOMMENTS_HTTP_PORT": "9000", "LIVECOMMENTS_DEV": "yes", "LIVECOMMENTS_LIVE_PREFIX": "tv/"}
    s = Settings.from_env(env)
    assert (s.http_port, s.dev, s.topics.comments("v")) == (9000, True, "tv/videos/v/comments")
    with pytest.raises(ConfigError):
        Settings.from_env({"LIVECOMMENTS_HTTP_PORT": "many"})


def test_batch_is_in_seq_order() -> None:
    doc = orjson.loads(encode_batch("v1", [{"type": "unpin", "seq": 3}, {"type": "unpin", "seq": 2}]))
    assert [e["seq"] for e in doc["events"]] == [2, 3]


def test_ticker_fits() -> None:
    assert ticker_text("Alice", "hello\nworld") == b"Alice: hello world"


@pytest.mark.parametrize("char", ["a", "é", "😀", "中"])
def test_ticker_cut_on_character_boundary(char: str) -> None:
    out = ticker_text("Bob", char * 400)
    assert len(out) <= 160
    text = out.decode()  # would raise if cut inside a character
    assert text.startswith("Bob: ") and text.endswith("…")


@pytest.mark.parametrize(
    ("rules", "verdict"),
    [
        (VideoRules("live", "open", False), Verdict.APPROVE),
        (VideoRules("live", "open", True), Verdict.HOLD),
        (VideoRules("live", "closed", False), Verdict.REJECT),
        (VideoRules("ended", "open", False), Verdict.REJECT),
    ],
)
def test_policy_switches(rules: VideoRules, verdict: Verdict) -> None:
    assert decide(rules).verdict is verdict


def test_recent_window_keeps_last_n() -> None:
    w = RecentWindow(3, [{"id": str(i), "reply_count": 0} for i in range(2)])
    for i in range(2, 6):
        w.add({"id": str(i), "reply_count": 0})
    assert [c["id"] for c in w.comments()] == ["3", "4", "5"]
    w.bump_replies("4", 2)
    assert w.comments()[1]["reply_count"] == 2
    assert w.latest() == {"id": "5", "reply_count": 0}


def test_a_short_secret_still_signs_and_verifies() -> None:
    from infra import credentials
    from livecomments import tokens

    secret = credentials.hs256_secret(Settings(secret="short"))
    who = tokens.verify(tokens.issue(secret, "u1", "Ann", ["moderator"]), secret)
    assert (who.user_id, who.name, who.is_moderator) == ("u1", "Ann", True)
    with pytest.raises(tokens.TokenError):
        tokens.verify(tokens.issue("other", "u1"), secret)
