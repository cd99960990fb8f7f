"""Bearer tokens (JWT): the claims the contract names, signed and checked with PyJWT."""

from __future__ import annotations

import functools
import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jwt

from livecomments.validation import is_valid_id

ROLES = ("moderator", "admin")
MIN_SECRET_BYTES = 32

log = logging.getLogger("livecomments.tokens")

# PyJWT warns on every sign and check with a short HS256 key; we say it once, at start-up.
warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)


@functools.cache
def warn_short(length: int) -> None:
    log.warning(
        "LIVECOMMENTS_SECRET is %d bytes; use at least %d random bytes for HS256 in production",
        length,
        MIN_SECRET_BYTES,
    )


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    roles: frozenset[str]

    @property
    def is_moderator(self) -> bool:
        return bool(self.roles & {"moderator", "admin"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def issue(secret: str, user_id: str, name: str | None = None, roles: Sequence[str] = (), ttl_s: int = 86400) -> str:
    if not is_valid_id(user_id):
        raise TokenError("user id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_s, "roles": list(roles)}
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str, hs256_secret: str | None, rs256_public_key: str | None = None) -> Identity:
    """Check signature (HS256 or RS256 only; never `none`) and expiry; return who it is."""
    return verify_until(token, hs256_secret, rs256_public_key)[0]


def verify_until(token: str, hs256_secret: str | None, rs256_public_key: str | None = None) -> tuple[Identity, int]:
    """`verify`, and the token's expiry (seconds since the epoch)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed token") from exc
    alg = header.get("alg")
    if alg == "RS256" and rs256_public_key:
        key, algorithms = rs256_public_key, ["RS256"]
    elif alg == "HS256" and hs256_secret:
        key, algorithms = hs256_secret, ["HS256"]
    else:
        raise TokenError(f"unsupported token algorithm {alg!r}")
    try:
        claims = jwt.decode(token, key, algorithms=algorithms, options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    sub = claims.get("sub")
    if not is_valid_id(sub):
        raise TokenError("token subject is not a valid user id")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("token roles must be a list of strings")
    name = claims.get("name")
    identity = Identity(
        user_id=str(sub),
        name=name if isinstance(name, str) and name.strip() else str(sub),
        roles=frozenset(roles),
    )
    return identity, int(claims["exp"])


class VerifiedTokens:
    """Tokens this process has verified, kept until they expire, for one pair of keys.

    A client signs in once and posts many times with the same token: checking its signature
    again each time is most of what authentication costs. A token is kept at most until its
    `exp`; the oldest entries go first beyond `max_size`."""

    def __init__(
        self,
        hs256_secret: str | None,
        rs256_public_key: str | None = None,
        *,
        max_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = (hs256_secret, rs256_public_key)
        self._max_size = max_size
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[Identity, int]] = {}

    def verify(self, token: str) -> Identity:
        kept = self._seen.get(token)
        if kept is not None and kept[1] > self._clock():
            return kept[0]
        identity, exp = verify_until(token, *self._keys)
        with self._lock:
            self._seen.pop(token, None)
            self._seen[token] = (identity, exp)
            while len(self._seen) > self._max_size:
                del self._seen[next(iter(self._seen))]
        return identity
