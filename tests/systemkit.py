"""Moved to tests/support/system.py; this name stays only until the bridge tests still using it are moved."""

from tests.support.system import System  # noqa: F401
