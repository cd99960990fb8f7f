"""Following the sampled feed `live/videos/{v}/sample` instead of `comments` (pure, no IO).

The sample carries every event but the comments the bridge left out, each with its real `seq`, so
its `seq` jumps are expected: nothing is held back, nothing is fetched from history. What stays
of `viewer.sequencer`'s rules: `recent` seeds the view, events come out in `seq` order within a
message, a `seq` (or a comment id) already emitted is dropped. Each message's `"skipped": n`
(n > 0) comes out first, as an event of type SKIPPED with `data={"skipped": n}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from viewer.sequencer import Event, Fetch, Sequencer, Source, Step

SKIPPED = "skipped"  # an Event type of the sample only: n comments left out since the message before


class SampleSequencer(Sequencer):
    """A Sequencer for the sample topic: no gaps to repair."""

    def wanted(self, *, use_hint: bool = False) -> Fetch | None:
        return None

    def reconnected(self) -> Step:
        return Step()  # what was missed meanwhile is not fetched: a sample is not the stream

    def batch(self, payload: Mapping[str, Any]) -> Step:
        step = super().batch(payload)
        skipped = payload.get("skipped")
        if isinstance(skipped, int) and not isinstance(skipped, bool) and skipped > 0:
            step.emit.insert(0, Event(SKIPPED, source=Source.LIVE, data={"skipped": skipped}))
        return step

    def _drain(self, out: list[Event], skip_to: int = 0) -> None:
        """Every held event follows on: the seq it skips were left out, not lost."""
        super()._drain(out, skip_to=max(skip_to, max(self._pending, default=0)))
