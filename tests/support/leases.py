"""The partitions' leases as running bridges leave them (infra.leases), for tests of what reads
them (readiness) without a bridge process."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from infra import leases as table
from webapp.extensions import db

HOUR_MS = 3_600_000


def hold_partitions(engine: Engine, count: int = 1, connected: bool = True, ttl_ms: int = HOUR_MS,
                    holder: str = "test-bridge") -> None:
    """Every partition of `count` held by `holder` (claimed and renewed), as one bridge would."""
    with sessionmaker(engine).begin() as session:
        table.ensure_partitions(session, count)
        for p in range(count):
            table.claim(session, holder, p, count, ttl_ms)  # None if `holder` has it already
        held = {lease.partition: (lease.epoch, connected) for lease in table.read_leases(session)
                if lease.holder == holder and lease.partition < count}
        table.renew(session, holder, held, ttl_ms)


def bridge_running(app: Flask, count: int = 1, connected: bool = True, ttl_ms: int = HOUR_MS) -> None:
    """As if a bridge held every partition of the app's database."""
    with app.app_context():
        hold_partitions(db.engine, count, connected, ttl_ms)
