"""The MQTT topic scheme. Topic names are built only from validated ids."""

from __future__ import annotations

from dataclasses import dataclass

from livecomments.validation import check_id

INGEST_KINDS = ("comments", "reactions", "changes")


@dataclass(frozen=True)
class Topics:
    """Topic names under the two configurable roots (`live/`, `ingest/`)."""

    live_prefix: str = "live/"
    ingest_prefix: str = "ingest/"

    def __post_init__(self) -> None:
        for prefix in (self.live_prefix, self.ingest_prefix):
            if not prefix.endswith("/") or any(c in prefix for c in "+#\0") or prefix.startswith("$"):
                raise ValueError(f"topic prefix {prefix!r} must end with '/' and hold no wildcard")
        if self.live_prefix.startswith(self.ingest_prefix) or self.ingest_prefix.startswith(self.live_prefix):
            raise ValueError("the live and ingest prefixes must not overlap")

    def _live(self, video_id: str, leaf: str) -> str:
        return f"{self.live_prefix}videos/{check_id('video_id', video_id)}/{leaf}"

    def comments(self, video_id: str) -> str:
        return self._live(video_id, "comments")

    def recent(self, video_id: str) -> str:
        return self._live(video_id, "recent")

    def reactions(self, video_id: str) -> str:
        return self._live(video_id, "reactions")

    def state(self, video_id: str) -> str:
        return self._live(video_id, "state")

    def ticker(self, video_id: str) -> str:
        return self._live(video_id, "ticker")

    def sample(self, video_id: str) -> str:
        """The sampled feed: the comments topic's events, at most `sample_per_s` comments a second."""
        return self._live(video_id, "sample")

    def ingest_comments(self, video_id: str) -> str:
        return f"{self.ingest_prefix}videos/{check_id('video_id', video_id)}/comments"

    def ingest_reactions(self, video_id: str) -> str:
        return f"{self.ingest_prefix}videos/{check_id('video_id', video_id)}/reactions"

    def ingest_changes(self, video_id: str) -> str:
        """A nudge from a service that wrote events to the outbox (moderation, reactions)."""
        return f"{self.ingest_prefix}videos/{check_id('video_id', video_id)}/changes"

    @property
    def ingest_comments_filter(self) -> str:
        return f"{self.ingest_prefix}videos/+/comments"

    @property
    def ingest_filter(self) -> str:
        return f"{self.ingest_prefix}videos/+/+"

    @property
    def live_filter(self) -> str:
        return f"{self.live_prefix}#"

    def video_of_ingest(self, topic: str) -> str | None:
        """The video id named by an ingest comments topic, or None."""
        parsed = self.parse_ingest(topic)
        return parsed[0] if parsed is not None and parsed[1] == "comments" else None

    def parse_ingest(self, topic: str) -> tuple[str, str] | None:
        """(video id, kind) of an ingest topic — kind is comments, reactions or changes — or None."""
        head = f"{self.ingest_prefix}videos/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) != 2 or parts[1] not in INGEST_KINDS:
            return None
        return parts[0], parts[1]
