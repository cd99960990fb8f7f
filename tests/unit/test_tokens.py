"""Verified tokens kept per process until they expire (livecomments.tokens.VerifiedTokens)."""

from __future__ import annotations

import time

import jwt
import pytest

from livecomments import tokens

SECRET = "tokens-test-secret-0123456789abcdef0123"


def test_a_kept_token_answers_without_checking_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tokens.VerifiedTokens(SECRET)
    tok = tokens.issue(SECRET, "u1", "Ann", ["moderator"])
    first = cache.verify(tok)
    assert (first.user_id, first.name, first.is_moderator) == ("u1", "Ann", True)
    calls: list[str] = []
    real = tokens.verify_until
    monkeypatch.setattr(tokens, "verify_until", lambda t, *k: calls.append(t) or real(t, *k))
    assert cache.verify(tok) == first
    assert calls == []
    assert cache.verify(tokens.issue(SECRET, "u2")).user_id == "u2"
    assert len(calls) == 1


def test_a_kept_token_is_checked_again_once_its_expiry_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time()]
    cache = tokens.VerifiedTokens(SECRET, clock=lambda: now[0])
    exp = int(now[0]) + 60
    tok = jwt.encode({"sub": "u1", "exp": exp}, SECRET, algorithm="HS256")
    assert cache.verify(tok).user_id == "u1"
    checked: list[str] = []

    def expired(t: str, *_keys: object) -> tuple[tokens.Identity, int]:
        checked.append(t)
        raise tokens.TokenError("token expired")

    monkeypatch.setattr(tokens, "verify_until", expired)
    now[0] = exp - 1
    assert cache.verify(tok).user_id == "u1" and checked == []
    now[0] = exp
    with pytest.raises(tokens.TokenError):
        cache.verify(tok)
    assert checked == [tok]


@pytest.mark.parametrize("bad", ["", "x.y.z", tokens.issue("another-secret-0123456789abcdef0123", "u1")])
def test_bad_tokens_are_refused_every_time_and_never_kept(bad: str) -> None:
    cache = tokens.VerifiedTokens(SECRET)
    for _ in range(2):
        with pytest.raises(tokens.TokenError):
            cache.verify(bad)


def test_the_oldest_go_first_beyond_the_bound() -> None:
    cache = tokens.VerifiedTokens(SECRET, max_size=3)
    toks = [tokens.issue(SECRET, f"u{i}") for i in range(5)]
    for t in toks:
        cache.verify(t)
    assert list(cache._seen) == toks[2:]
