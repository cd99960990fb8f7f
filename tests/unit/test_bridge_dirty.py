"""Which retained views wait for their turn (pure bookkeeping of the bridge's throttling)."""

from __future__ import annotations

from bridge.dirty import DirtyVideos, Flags


def test_views_not_due_stay_marked() -> None:
    dirty = DirtyVideos()
    dirty.mark(["v1"], recent=True, reload=True, state=True, reactions=True)
    now = dirty.take("v1", recent_due=False, reactions_due=False)
    assert now == Flags(state=True)
    assert dirty.videos() == ["v1"]
    later = dirty.take("v1", recent_due=True, reactions_due=True)
    assert later == Flags(recent=True, reactions=True, reload=True)
    assert not dirty


def test_everything_due_is_taken_at_once() -> None:
    dirty = DirtyVideos()
    dirty.mark(["v1", "v2"], recent=True)
    dirty.mark(["v2"], reactions=True)
    assert dirty.take("v2") == Flags(recent=True, reactions=True)
    assert dirty.videos() == ["v1"]
