"""The bridge's Prometheus metrics, on a registry of its own (several bridges may share a process in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingest = Counter(
            "livecomments_bridge_ingest_messages",
            "Ingest messages received, by result (valid, invalid)",
            ["result"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "livecomments_bridge_submissions",
            "Submissions decided, by outcome (approved, held, rejected, duplicate)",
            ["outcome", "source"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "livecomments_bridge_events_published", "Events confirmed by the broker on live/", registry=self.registry
        )
        self.batches_published = Counter(
            "livecomments_bridge_batches_published", "Event batch messages published on live/", registry=self.registry
        )
        self.db_errors = Counter(
            "livecomments_bridge_db_errors", "Transactions that failed and were retried", registry=self.registry
        )
        self.batch_seconds = Histogram(
            "livecomments_bridge_batch_seconds",
            "Time to decide, persist and publish one batch",
            registry=self.registry,
        )

    def value(self, name: str, **labels: str) -> float:
        got = self.registry.get_sample_value(name, labels)
        return got or 0.0
