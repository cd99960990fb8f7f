"""The one way the project opens Redis: short timeouts and no retries, so a Redis that is down
costs a request one refused connection and a frozen one (SIGSTOP, a full network) costs it one
timeout, never a blocked thread. redis-py's own default waits 5 s per try and retries 10 times
with backoff; under load that stopped every web thread, /healthz included."""

from __future__ import annotations

from typing import Any

TIMEOUT_S = 0.5  # per connect and per reply; a healthy Redis answers in well under a millisecond


def connect(url: str, timeout_s: float = TIMEOUT_S) -> Any:
    """A client (a connection pool) for `url`; nothing is opened before the first command."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
