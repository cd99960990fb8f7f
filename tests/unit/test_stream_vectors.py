"""The shared cases of the client rules (tests/vectors/stream.json) run against the Python
library's Sequencer. webapp/static/tests/stream_vectors.test.mjs runs the same cases against the
page's stream.js; the file's `about` says what a case is."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from viewer.sequencer import Event, EventType, Fetch, Sequencer, Step

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "stream.json").read_text())
DEFAULTS: dict[str, Any] = VECTORS["comment_defaults"]
CASES: list[dict[str, Any]] = VECTORS["cases"]


def full(raw: Any) -> Any:
    """A vector's comment with the fields it leaves out."""
    return {**DEFAULTS, **raw} if isinstance(raw, dict) else raw


def full_event(raw: Any) -> Any:
    if isinstance(raw, dict) and isinstance(raw.get("comment"), dict):
        return {**raw, "comment": full(raw["comment"])}
    return raw


@dataclass
class Screen:
    """What an application following docs/client.md shows from the events it is handed."""

    shown: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # id -> (seq, parent), in order
    pinned: str | None = None
    delivered: Counter[str] = field(default_factory=Counter)
    deletes: Counter[str] = field(default_factory=Counter)

    def take(self, events: list[Event]) -> None:
        for e in events:
            if e.type == EventType.COMMENT and e.comment is not None and e.id is not None:
                self.delivered[e.id] += 1
                assert self.delivered[e.id] <= self.deletes[e.id] + 1, f"{e.id} delivered twice"
                parent = e.comment.get("parent_id")
                if parent is None or parent in self.shown:
                    self.shown.pop(e.id, None)
                    self.shown[e.id] = (e.seq or 0, parent)
            elif e.type == EventType.DELETE and e.id is not None:
                self.deletes[e.id] += 1
                for ident in [i for i, (_, p) in self.shown.items() if i == e.id or p == e.id]:
                    del self.shown[ident]
                if self.pinned == e.id:
                    self.pinned = None
            elif e.type == EventType.PIN and e.id is not None:
                self.pinned = e.id
            elif e.type == EventType.UNPIN:
                self.pinned = None

    def in_seq_order(self) -> list[str]:
        order = list(self.shown)
        assert order == sorted(order, key=lambda i: self.shown[i][0]), f"delivered out of seq order: {order}"
        return order


class Driver:
    def __init__(self, case: dict[str, Any]) -> None:
        self.page_size: int = case.get("page_size", 200)
        self.history = sorted((full(c) for c in case.get("history", [])), key=lambda c: c["seq"])
        self.sequencer = Sequencer(page_size=self.page_size)
        self.screen = Screen()
        self.fetch: Fetch | None = None  # the last request the sequencer asked for

    def took(self, step: Step) -> None:
        self.screen.take(step.emit)
        self.fetch = step.fetch

    def answer(self, fetch: Fetch) -> list[dict[str, Any]]:
        return [c for c in self.history if c["seq"] > fetch.after_seq][: fetch.limit]

    def wanted(self) -> Fetch | None:
        # "a moment later" a `recent` that named a seq the stream never reached is fetched as well
        return self.fetch or self.sequencer.wanted(use_hint=True)

    def run(self, step: dict[str, Any]) -> None:
        s = self.sequencer
        if "recent" in step:
            snapshot = step["recent"]
            if isinstance(snapshot.get("comments"), list):
                snapshot = {**snapshot, "comments": [full(c) for c in snapshot["comments"]]}
            self.took(s.recent(snapshot))
        elif "events" in step:
            events = step["events"]
            if isinstance(events, list):
                events = [full_event(e) for e in events]
            self.took(s.batch({"video_id": "v1", "events": events}))
        elif "reconnect" in step:
            self.took(s.reconnected())
        elif "serve" in step:
            fetch = self.wanted()
            for _ in range(1000):
                if fetch is None:
                    break
                self.took(s.backfill(fetch, self.answer(fetch)))
                fetch = self.fetch
            else:
                pytest.fail("history requests never end")
        elif "expect" in step:
            self.check(step["expect"])
        else:
            pytest.fail(f"unknown step {step}")

    def check(self, expect: dict[str, Any]) -> None:
        if "shown" in expect:
            assert self.screen.in_seq_order() == expect["shown"]
        if "last_seq" in expect:
            assert self.sequencer.last_seq == expect["last_seq"]
        if "pinned" in expect:
            assert self.screen.pinned == expect["pinned"]
        if "gap_after" in expect:
            self.fetch = self.wanted()
            assert (self.fetch.after_seq if self.fetch else None) == expect["gap_after"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any]) -> None:
    driver = Driver(case)
    for step in case["steps"]:
        driver.run(step)


def test_vectors_are_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 15
    kinds = {"recent", "events", "reconnect", "serve", "expect"}
    for case in CASES:
        assert any("expect" in step for step in case["steps"]), case["name"]
        for step in case["steps"]:
            assert len(kinds & step.keys()) == 1, (case["name"], step)
