"""Who is asking: ``Authorization: Bearer <JWT>`` checked with the core's token rules."""

from __future__ import annotations

from flask import request

from livecomments.tokens import Identity, TokenError
from livecomments.validation import FieldError, clean_name
from webapp.errors import CODES, ApiError
from webapp.extensions import app_state

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="livecomments"'}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, CODES[401], message, _CHALLENGE)


def forbidden(message: str) -> ApiError:
    return ApiError(403, CODES[403], message)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


def _verify(token: str) -> Identity:
    try:
        return app_state().tokens.verify(token)
    except TokenError as exc:
        raise unauthorized(str(exc)) from exc


def optional_user() -> Identity | None:
    """The caller if a token is given (401 if it is bad), else None: reading needs no token."""
    token = _bearer_token()
    return None if token is None else _verify(token)


def require_user() -> Identity:
    who = optional_user()
    if who is None:
        raise unauthorized("sign in: this needs 'Authorization: Bearer <token>'")
    return who


def require_admin() -> Identity:
    who = require_user()
    if not who.is_admin:
        raise forbidden("this needs the admin role")
    return who


def require_moderator() -> Identity:
    who = require_user()
    if not who.is_moderator:
        raise forbidden("this needs the moderator role")
    return who


def display_name(who: Identity) -> str:
    """The token's name if it keeps the contract's rules for names, else the user id."""
    try:
        return clean_name(who.name)
    except FieldError:
        return who.user_id
