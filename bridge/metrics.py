"""The bridge's Prometheus metrics, on a registry of its own (several bridges may share a process in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.ingest_lag = Histogram(
            "livecomments_bridge_ingest_lag_seconds",
            "From acceptance (the submission's ts) to the bridge's commit",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "livecomments_bridge_commit_seconds", "Database transaction time of one batch", registry=self.registry
        )
        self.publish_seconds = Histogram(
            "livecomments_bridge_publish_seconds",
            "From publish to the broker's PUBACK, per event batch",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "livecomments_bridge_batch_size",
            "Submissions decided in one transaction",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "livecomments_bridge_batch_seconds",
            "Time to decide, persist and publish one batch",
            registry=self.registry,
        )

        self.partitions_held = Gauge(
            "livecomments_bridge_partitions_held", "Partitions whose lease this process holds (a bridge runs for each)",
            registry=self.registry,
        )
        self.lease_changes = Counter(
            "livecomments_bridge_lease_changes",
            "Partition leases taken, released (handed over) and lost (taken over, or the database unreachable)",
            ["change"],
            registry=self.registry,
        )

    def value(self, name: str, **labels: str) -> float:
        got = self.registry.get_sample_value(name, labels)
        return got or 0.0
