"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

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
