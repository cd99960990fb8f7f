"""The integration tier's own fixture: Mosquitto must be installed (like redis-server, a missing
server fails loudly, never skips). The shared ones (stack, system, redis_url, postgres_url) are
in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broker import mosquitto as mq
from livecomments.config import Settings
from tests.support.stack import Stack, wait_for_port


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


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request: pytest.FixtureRequest, stack: Stack) -> Iterator[str]:
    """The stack's broker, once the embedded amqtt and once Mosquitto, on the stack's ports; its
    name. (test_mosquitto.py has a `broker` of its own.)"""
    if request.param == "amqtt":
        stack.broker()
        yield "amqtt"
        return
    request.getfixturevalue("require_mosquitto")
    process = mq.MosquittoProcess(Settings(data_dir=stack.data_dir, mqtt_port=stack.mqtt_port,
                                           ws_port=stack.ws_port))
    process.start()
    try:
        wait_for_port(stack.mqtt_port)
        yield "mosquitto"
    finally:
        process.stop()
