"""Prometheus metrics on a registry of the app's own (several apps may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.comments_accepted = Counter(
            "livecomments_web_comments_accepted",
            "Comments recorded as pending and answered 202",
            registry=self.registry,
        )
        self.comments_replayed = Counter(
            "livecomments_web_comments_replayed",
            "Retries answered with an earlier comment's id (same Idempotency-Key)",
            registry=self.registry,
        )
        self.comments_rejected = Counter(
            "livecomments_web_comments_rejected",
            "Comment posts answered with an error, by HTTP status and reason (the error code)",
            ["status", "reason"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "livecomments_web_publish_failures",
            "Recorded comments not handed to the broker at once (the bridge's sweeper re-drives them)",
            registry=self.registry,
        )
        self.history_cache = Counter(
            "livecomments_web_history_cache",
            "History reads answered from the Redis recent cache (hit) or the database (miss)",
            ["result"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "livecomments_web_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
