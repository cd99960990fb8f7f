"""The app, its test client, its publisher and tokens (as flaskr's conftest has `app`, `client`
and `auth`); `make_app` builds more apps, on the same data dir or with other settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.web import Auth, MakeApp, close_app, make_test_app, memory_publisher
from webapp.publisher import MemoryPublisher


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """`make_app(data_dir=tmp_path, **settings)`: an app as `livecomments web` builds it (migrations
    first), publishing to memory; closed after the test. Apps on one data dir share its database,
    as two web processes do."""
    built: list[Flask] = []

    def make(data_dir: Path | None = None, **settings: Any) -> Flask:
        app, _publisher = make_test_app(data_dir or tmp_path, **settings)
        built.append(app)
        return app

    yield make
    for app in reversed(built):
        close_app(app)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The app on tmp_path with the default settings, and no video yet."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def publisher(app: Flask) -> MemoryPublisher:
    """What the app handed to the bridge."""
    return memory_publisher(app)


@pytest.fixture
def auth() -> Auth:
    return Auth()
