"""Which retained views of which videos need publishing again (pure bookkeeping)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields


@dataclass
class Flags:
    recent: bool = False  # recent + ticker
    state: bool = False
    reactions: bool = False
    reload: bool = False  # the recent window must be rebuilt from the database

    def as_marks(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __bool__(self) -> bool:
        return any(self.as_marks().values())


class DirtyVideos:
    def __init__(self) -> None:
        self._flags: dict[str, Flags] = {}

    def mark(self, videos: Iterable[str], **marks: bool) -> None:
        for video_id in videos:
            flags = self._flags.setdefault(video_id, Flags())
            for name, on in marks.items():
                if on:
                    setattr(flags, name, True)

    def videos(self) -> list[str]:
        return list(self._flags)

    def take(self, video_id: str, recent_due: bool = True, reactions_due: bool = True) -> Flags:
        """The flags to act on now. Throttled views that are not due yet stay marked for later
        (a rebuild of the window goes with `recent`)."""
        flags = self._flags.pop(video_id)
        later = Flags(
            recent=flags.recent and not recent_due,
            reactions=flags.reactions and not reactions_due,
            reload=flags.reload and not recent_due,
        )
        if later:
            self._flags[video_id] = later
        return Flags(
            recent=flags.recent and recent_due,
            state=flags.state,
            reactions=flags.reactions and reactions_due,
            reload=flags.reload and recent_due,
        )

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._flags

    def __bool__(self) -> bool:
        return bool(self._flags)
