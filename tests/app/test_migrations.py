"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from infra.db import create_schema, make_engine
from livecomments.models import Base


def test_migrations_match_the_models_and_run_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        create_schema(engine)  # every process runs it at start-up: the second time is a no-op
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"the models changed without a migration: {diff}"
    finally:
        engine.dispose()


def test_video_time_migration_on_a_database_that_holds_comments(database_url: str) -> None:
    """0005 on a database made by the revision before it, with videos and comments in it: every video
    starts at its creation, every comment gets its pos_ms from it (0 before it), the replay index exists."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    from infra.db import alembic_config

    before = ScriptDirectory.from_config(alembic_config()).get_revision("0005").down_revision
    assert isinstance(before, str)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), before)
            connection.commit()
            connection.execute(text(
                "INSERT INTO videos (id, title, status, chat, slow_mode_s, hold_for_review, blocked_terms,"
                " reports_to_hold, pinned_comment_id, last_seq, rules_version, created_ts) VALUES"
                " ('old', 'Old', 'live', 'open', 0, false, '[]', 3, NULL, 3, 0, 1000000),"
                " ('done', 'Done', 'ended', 'closed', 0, false, '[]', 3, NULL, 0, 0, 2000000)"
            ))
            connection.execute(text(
                "INSERT INTO comments (id, video_id, seq, parent_id, user_id, user_name, text, ts, status,"
                " reply_count, idempotency_key, reason, by_moderator) VALUES"
                " ('01JDQ3AAAAAAAAAAAAAAAAAAA1', 'old', 1, NULL, 'u1', 'U', 'a', 1000000, 'approved', 0, NULL, NULL,"
                " false),"
                " ('01JDQ3AAAAAAAAAAAAAAAAAAA2', 'old', 2, NULL, 'u1', 'U', 'b', 1065432, 'approved', 0, NULL, NULL,"
                " false),"
                " ('01JDQ3AAAAAAAAAAAAAAAAAAA3', 'old', NULL, NULL, 'u1', 'U', 'c', 999000, 'pending', 0, 'k', NULL,"
                " false)"
            ))
            connection.commit()
        create_schema(engine)
        with engine.connect() as connection:
            videos = dict(connection.execute(text("SELECT id, started_ts FROM videos")).all())
            assert videos == {"old": 1000000, "done": 2000000}
            ended = dict(connection.execute(text("SELECT id, ended_ts FROM videos")).all())
            assert ended == {"old": None, "done": 2000000}
            pos = dict(connection.execute(text("SELECT text, pos_ms FROM comments")).all())
            assert pos == {"a": 0, "b": 65432, "c": 0}
            indexes = {i["name"] for i in inspect(connection).get_indexes("comments")}
            assert "ix_comments_replay" in indexes
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == [], diff
    finally:
        engine.dispose()



def _migrate_at(url: str, start: Any) -> None:
    engine = make_engine(url)  # ready before the barrier, so that the migrations overlap
    start.wait(30)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


def _migrate_together(url: str, processes: int = 4) -> list[int | None]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(processes)
    procs = [ctx.Process(target=_migrate_at, args=(url, start)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    return [proc.exitcode for proc in procs]


def _matches_the_models(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_processes_migrating_a_fresh_sqlite_database_at_once_all_succeed(tmp_path: Path) -> None:
    """The bridge and the web app started together each migrate at start-up (found in the browser
    tests: the web app exited on `table bridge_leases already exists`). Five fresh databases: the
    race, without the lock, lost about one round in five here."""
    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'round-{round_}.sqlite3'}"
        assert _migrate_together(url) == [0, 0, 0, 0], round_
        assert _matches_the_models(url)


def test_processes_migrating_a_fresh_postgresql_database_at_once_all_succeed(postgres_url: str) -> None:
    assert _migrate_together(postgres_url) == [0, 0, 0, 0]
    assert _matches_the_models(postgres_url)
