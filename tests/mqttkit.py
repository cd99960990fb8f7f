"""Moved to tests/support/mqtt.py; this name stays only until the bridge tests still using it are moved."""

from tests.support.mqtt import Collector, publish  # noqa: F401
