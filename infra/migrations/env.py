"""Alembic environment: migrations run on the connection livecomments hands over."""

from __future__ import annotations

from alembic import context

from livecomments.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # several processes may start at once: one migrates, the others wait and find nothing to do
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
    context.run_migrations()
