"""viewer: a client library and terminal viewer for live comments.

`LiveClient` follows one video: the retained `recent` snapshot seeds it, events come in
`seq` order, each comment once, gaps are repaired from the HTTP history, and it
reconnects with backoff and jitter across several broker URLs. The rules themselves are
pure (`viewer.sequencer`, `viewer.backoff`); see docs/client.md.
"""

from viewer.backoff import Backoff, ReconnectPlan, full_jitter
from viewer.client import BrokerURL, LiveClient, Stats
from viewer.sequencer import Event, EventType, Fetch, Sequencer, Source, Step

__all__ = [
    "Backoff",
    "BrokerURL",
    "Event",
    "EventType",
    "Fetch",
    "LiveClient",
    "ReconnectPlan",
    "Sequencer",
    "Source",
    "Stats",
    "Step",
    "full_jitter",
]
