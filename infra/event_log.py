"""Appending events to a video's stream: the next `seq` and the `live_events` outbox row,
in the caller's transaction. The bridge and the web app both append; the video row is
locked for the transaction (SELECT … FOR UPDATE, or SQLite's BEGIN IMMEDIATE), so `seq`
is an atomic counter and never names two events. Only the bridge publishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.orm import Session

from livecomments.models import LiveEvent, Video


def lock_video(session: Session, video_id: str) -> Video | None:
    return session.get(Video, video_id, with_for_update=True)


def append_event(session: Session, video: Video, build: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """Give the event the video's next seq and record it for publishing."""
    video.last_seq += 1
    event = build(video.last_seq)
    session.add(
        LiveEvent(video_id=video.id, seq=video.last_seq, type=event["type"], payload=orjson.dumps(event).decode())
    )
    return event
