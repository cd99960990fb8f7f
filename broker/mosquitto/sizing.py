"""How big a Mosquitto broker's limits must be for livecomments' messages. Pure arithmetic.

`Limits.for_settings` derives the packet size from the largest message the bridge publishes
and the in-flight window from its batch size; docs/operations.md gives every reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from livecomments.config import Settings

# The largest JSON a comment takes in a live/ message: 500 code points of 4-byte UTF-8 text,
# a 50-code-point name, 64-char ids, every counter at its widest and all six reaction
# kinds come to 2,704 bytes (tests/integration/test_mosquitto.py measures it); rounded up.
EVENT_MAX_BYTES = 2816
# The most events the bridge puts in one `comments` message: bridge.queries.unpublished_events'
# default limit (a test keeps the two equal).
BRIDGE_EVENTS_PER_MESSAGE = 1000
ENVELOPE_BYTES = 1024  # {"video_id": ..., "events"/"comments": [...], "seq": ...}
TOPIC_AND_HEADER_BYTES = 65_536 + 16  # a topic is at most 65,535 bytes; fixed header, lengths, packet id
FD_SPARE = 64  # descriptors beyond the connections: files, listeners, bridges


def _round_up(value: int, unit: int) -> int:
    return math.ceil(value / unit) * unit


@dataclass(frozen=True)
class Limits:
    """Every limit the template renders, with the reasons in docs/operations.md and in the file."""

    max_payload: int  # the largest live/ message the bridge may publish
    max_packet_size: int
    max_inflight_messages: int
    max_queued_messages: int = 4000
    max_queued_bytes: int = 32 * 1024 * 1024
    max_keepalive: int = 120
    tcp_max_connections: int = 2048
    ws_max_connections: int = 16384
    autosave_interval: int = 60
    persistent_client_expiration: str = "1d"
    sys_interval: int = 10

    @classmethod
    def for_settings(cls, settings: Settings, **overrides: int | str) -> Limits:
        biggest = max(BRIDGE_EVENTS_PER_MESSAGE, settings.recent_size) * EVENT_MAX_BYTES + ENVELOPE_BYTES
        payload = _round_up(biggest, 256 * 1024)
        limits = cls(
            max_payload=payload,
            max_packet_size=payload + TOPIC_AND_HEADER_BYTES,
            # the bridge acks an ingest message after its commit and decides up to
            # bridge_batch_max of them per transaction: twice that may be in flight
            max_inflight_messages=2 * settings.bridge_batch_max,
        )
        return replace(limits, **overrides)  # type: ignore[arg-type]

    @property
    def fd_needed(self) -> int:
        """Descriptors a broker with both listeners full would hold (plus files, listeners, bridges)."""
        return self.tcp_max_connections + self.ws_max_connections + FD_SPARE
