"""The integration tier's own fixture: Mosquitto must be installed (like redis-server, a missing
server fails loudly, never skips). The shared ones (stack, system, redis_url, postgres_url) are
in tests/conftest.py."""

from __future__ import annotations

import pytest

from broker import mosquitto as mq


def _mosquitto_installed() -> bool:
    try:
        mq.mosquitto_executable()
        mq.mosquitto_executable("mosquitto_passwd")
    except FileNotFoundError:
        return False
    return True


@pytest.fixture
def require_mosquitto() -> None:
    if not _mosquitto_installed():  # like redis-server: a missing server fails loudly, never skips
        pytest.fail("mosquitto is not installed (Debian: apt-get install mosquitto mosquitto-clients)")
