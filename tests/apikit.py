"""Moved to tests/support/api.py; this name stays only until the bridge tests still using it are moved."""

from tests.support.api import Api  # noqa: F401
