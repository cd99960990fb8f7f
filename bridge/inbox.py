"""Sorting decoded ingest messages by kind (pure: payloads in, validated values out)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from livecomments.models import ReactionKind
from livecomments.validation import FieldError, check_id
from livecomments.wire import Submission, decode_reaction_counts, decode_submissions

REACTION_KINDS = tuple(k.value for k in ReactionKind)

# An ingest message as it came: (mid, qos, topic as sent, payload, the connection it came on: acks
# go back on that one).
Received = tuple[int, int, bytes, bytes, int]


CHANGES = ("events", "state", "reactions")


def decode_nudge(payload: bytes) -> set[str]:
    """What a service says it changed; anything unclear means everything."""
    if len(payload) > 1024:
        raise FieldError("payload", "a change nudge is small")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FieldError("payload", "not valid UTF-8 JSON") from exc
    changed = doc.get("changed") if isinstance(doc, dict) else None
    if not isinstance(changed, list) or not changed or not all(c in CHANGES for c in changed):
        return set(CHANGES)
    return set(changed)


@dataclass
class Inbox:
    submissions: list[Submission] = field(default_factory=list)
    reactions: dict[str, dict[str, int]] = field(default_factory=dict)  # video -> kind -> clicks
    nudged: dict[str, set[str]] = field(default_factory=dict)  # video -> what others changed
    invalid: list[FieldError] = field(default_factory=list)  # rejected elements of ingest arrays

    def add(self, parsed: tuple[str, str] | None, payload: bytes) -> int:
        """Validate one message by its topic; FieldError if it is not acceptable at all.

        Returns how many valid items it brought (the elements of an ingest array that failed
        validation are appended to `invalid`; the others are kept)."""
        if parsed is None:
            raise FieldError("topic", "not an ingest topic of this service")
        video_id, kind = parsed[0], parsed[1]
        check_id("video_id", video_id)
        if kind == "comments":
            subs, errors = decode_submissions(payload, video_id)
            self.submissions += subs
            self.invalid += errors
            return len(subs)
        elif kind == "reactions":
            counts = decode_reaction_counts(payload, video_id, REACTION_KINDS)
            into = self.reactions.setdefault(video_id, {})
            for k, n in counts.items():
                into[k] = into.get(k, 0) + n
        else:
            self.nudged.setdefault(video_id, set()).update(decode_nudge(payload))
        return 1
