"""The web process as the wiring assembles it: create_app opens nothing and migrates nothing, the
parts it is given are Services that build_web starts and close_web stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from infra.db import make_engine
from infra.ports import free_port
from livecomments.config import Settings
from livecomments.service import Service
from tests.support.leases import bridge_running
from tests.support.web import SECRET
from webapp import create_app
from webapp.extensions import app_state, db
from webapp.publisher import MemoryPublisher, MqttPublisher
from wiring.web import build_web, build_web_deps, close_web, prepare_data


def test_create_app_uses_the_engine_it_is_given_and_migrates_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret=SECRET)
    deps = build_web_deps(settings, publisher=MemoryPublisher())
    try:
        app = create_app(settings, deps)
        with app.app_context():
            assert db.engine is deps.engine
        assert inspect(deps.engine).get_table_names() == []  # no schema: create_app ran no migration
        assert app_state(app).publisher is deps.publisher and app_state(app).posts is deps.posts
    finally:
        for service in (deps.posts, deps.live_reactions, deps.publisher):
            service.stop()
        deps.engine.dispose()


def test_prepare_data_migrates_once_and_the_app_then_serves(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret=SECRET)
    prepare_data(settings)
    engine = make_engine(settings.effective_database_url)
    assert {"videos", "comments", "live_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    app = build_web(settings, publisher=MemoryPublisher())
    try:
        bridge_running(app)  # readiness also needs a bridge holding the partition
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        close_web(app)


@pytest.mark.parametrize("real_publisher", [False, True])
def test_every_background_part_is_a_service_started_and_stopped_by_the_wiring(
    tmp_path: Path, real_publisher: bool
) -> None:
    settings = Settings(data_dir=tmp_path, secret=SECRET, mqtt_port=free_port())  # no broker listens there
    prepare_data(settings)
    app = build_web(settings, publisher=None if real_publisher else MemoryPublisher())
    state = app_state(app)
    parts: list[Service] = [state.publisher, state.posts]
    assert state.live_reactions is not None
    parts.append(state.live_reactions)
    assert isinstance(state.publisher, MqttPublisher) is real_publisher
    for part in parts:
        assert isinstance(part, Service), part
        assert part.is_alive(), part.name
    close_web(app)
    assert [part.name for part in parts if part.is_alive()] == []
    for part in parts:
        part.stop()  # a second stop is harmless
    close_web(app)  # and so is a second close
