"""Who is watching, in the database (`video_audience`): what the bridge's presence counter writes
and what `state` and GET /api/videos/{v} read, on the session the caller hands over."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

from livecomments.models import Video, VideoAudience, VideoStatus

AUDIENCE = VideoAudience.__table__


def audience_of(session: Session | scoped_session[Any], video_id: str) -> tuple[int, int]:
    """(viewers, peak_viewers) of a video; (0, 0) if nobody ever announced themselves there."""
    row = session.get(VideoAudience, video_id)
    return (row.viewers, row.peak_viewers) if row is not None else (0, 0)


def write_audience(session: Session, counts: Mapping[str, int], now_ms: int) -> None:
    """Upsert each video's `viewers`; `peak_viewers` only grows (so two bridges writing the same
    video cannot lower it). The videos must exist (`live_among`)."""
    if not counts:
        return
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(AUDIENCE).values([
        {"video_id": v, "viewers": n, "peak_viewers": n, "updated_ts": now_ms} for v, n in counts.items()
    ])
    peak = AUDIENCE.c.peak_viewers
    stmt = stmt.on_conflict_do_update(
        index_elements=[AUDIENCE.c.video_id],
        set_={
            "viewers": stmt.excluded.viewers,
            "peak_viewers": case((stmt.excluded.viewers > peak, stmt.excluded.viewers), else_=peak),
            "updated_ts": stmt.excluded.updated_ts,
        },
    )
    session.execute(stmt)


def live_among(session: Session, video_ids: Collection[str]) -> set[str]:
    """Those of these videos that exist and are live (an ended video's audience is not counted)."""
    if not video_ids:
        return set()
    rows = session.scalars(select(Video.id).where(Video.id.in_(list(video_ids)), Video.status == VideoStatus.LIVE))
    return set(rows)
