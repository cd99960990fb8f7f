"""Reads both the bridge and the web app make, on the session they hand over."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livecomments.models import Reaction


def reaction_totals(session: Session, comment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per-comment reaction counts by kind, for the given comments (those with any)."""
    if not comment_ids:
        return {}
    rows = session.execute(
        select(Reaction.comment_id, Reaction.kind, func.count())
        .where(Reaction.comment_id.in_(list(comment_ids)))
        .group_by(Reaction.comment_id, Reaction.kind)
    )
    out: dict[str, dict[str, int]] = {}
    for comment_id, kind, n in rows:
        out.setdefault(comment_id, {})[kind] = int(n)
    return out
