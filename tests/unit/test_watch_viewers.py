"""`livecomments watch` shows the viewer count on stderr when `state` changes it (viewer.watch.Renderer)."""

from __future__ import annotations

from viewer.sequencer import Event, EventType
from viewer.watch import Renderer

STATE = {"status": "live", "chat": "open", "slow_mode_s": 0, "hold_for_review": False, "pinned": None}


def state(**fields: object) -> Event:
    return Event(EventType.STATE, data={**STATE, **fields})


def test_the_count_is_shown_when_it_changes_and_only_then() -> None:
    r = Renderer(colour=False)
    assert r.render(state(viewers=1, peak_viewers=1)) == ["[live · chat open]"]
    assert r.status(state(viewers=3, peak_viewers=3)) == "· 3 watching (peak 3)"
    assert r.status(state(viewers=3, peak_viewers=3)) is None  # the same count again: nothing
    assert r.render(state(viewers=3, peak_viewers=3)) == []  # and no new line on stdout
    assert r.status(state(viewers=12345, peak_viewers=20000)) == "· 12,345 watching (peak 20,000)"
    assert r.status(state(viewers=0, peak_viewers=20000)) == "· 0 watching (peak 20,000)"


def test_a_state_without_a_count_shows_nothing() -> None:
    r = Renderer(colour=False)
    assert r.status(Event(EventType.STATE, data=STATE)) is None
    assert r.status(state(viewers="many")) is None
    assert r.status(state(viewers=True)) is None
    assert r.status(state(viewers=2)) == "· 2 watching (peak 2)"  # an older bridge: no peak_viewers
