"""Helpers for testing the web app (like flask.testing): an app on a temporary data dir
with an in-memory publisher, built by the wiring as production builds it, tokens, and rows
written as the bridge would write them."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from sqlalchemy import func, select
from ulid import ULID

from livecomments import tokens
from livecomments.config import Settings
from livecomments.models import Comment, CommentStatus, Video
from webapp.extensions import app_state, db
from webapp.publisher import MemoryPublisher
from wiring.web import build_web, close_web, prepare_data

SECRET = "webapp-test-secret-0123456789abcdef"  # noqa: S105 - tests only

MakeApp = Callable[..., Flask]  # the `make_app` fixture (tests/app/conftest.py)


def make_test_app(data_dir: Path, **settings: Any) -> tuple[Flask, MemoryPublisher]:
    """An app as `livecomments web` builds one (migrations first), publishing to memory."""
    publisher = MemoryPublisher()
    config = Settings(data_dir=data_dir, secret=SECRET, **settings)
    prepare_data(config)
    return build_web(config, publisher=publisher, test_config={"TESTING": True}), publisher


def close_app(app: Flask) -> None:
    close_web(app)


def memory_publisher(app: Flask) -> MemoryPublisher:
    """What an app built by `make_test_app` handed to the bridge."""
    publisher = app_state(app).publisher
    assert isinstance(publisher, MemoryPublisher)
    return publisher


def token(
    user_id: str, name: str | None = None, roles: Sequence[str] = (), ttl_s: int = 3600, secret: str = SECRET
) -> str:
    return tokens.issue(secret, user_id, name, roles, ttl_s)


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


@dataclass(frozen=True)
class Auth:
    """Authorization headers signed with the test app's secret."""

    def headers(self, user_id: str, name: str | None = None, roles: Sequence[str] = ()) -> dict[str, str]:
        return bearer(token(user_id, name, roles))

    def admin(self) -> dict[str, str]:
        return self.headers("root", roles=["admin"])

    def moderator(self) -> dict[str, str]:
        return self.headers("mod", "Mod", roles=["moderator"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none_token(user_id: str) -> str:
    """An unsigned token (``alg: none``), built by hand as an attacker would."""
    header = _b64(orjson.dumps({"alg": "none", "typ": "JWT"}))
    payload = _b64(orjson.dumps({"sub": user_id, "exp": int(time.time()) + 3600, "roles": ["admin"]}))
    return f"{header}.{payload}."


def add_video(app: Flask, video_id: str, **fields: Any) -> None:
    values: dict[str, Any] = {"title": f"video {video_id}", "created_ts": app_state(app).clock()}
    values.update(fields)
    with app.app_context():
        db.session.add(Video(id=video_id, **values))
        db.session.commit()


def add_comment(
    app: Flask,
    video_id: str,
    seq: int | None,
    *,
    status: str = CommentStatus.APPROVED,
    text: str = "hello",
    user_id: str = "u1",
    parent_id: str | None = None,
    **fields: Any,
) -> str:
    """A comment row as the bridge leaves it (approved and numbered unless told otherwise)."""
    comment_id = str(ULID())
    with app.app_context():
        db.session.add(
            Comment(
                id=comment_id,
                video_id=video_id,
                seq=seq,
                parent_id=parent_id,
                user_id=user_id,
                user_name=user_id.capitalize(),
                text=text,
                ts=app_state(app).clock(),
                status=str(status),
                reply_count=0,
                **fields,
            )
        )
        db.session.commit()
    return comment_id


def comment_rows(app: Flask) -> list[Comment]:
    with app.app_context():
        return list(db.session.scalars(select(Comment).order_by(Comment.id)))


def comment_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Comment)) or 0)
