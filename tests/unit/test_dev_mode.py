"""`livecomments up`'s development sign-in: on by default only where only this machine can reach it."""

from __future__ import annotations

import pytest

from wiring.up import is_loopback, up_dev_mode


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_on_by_default_on_loopback_without_a_warning(host: str) -> None:
    assert up_dev_mode(host, configured=None, forced=False) == (True, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_off_by_default_elsewhere(host: str) -> None:
    assert up_dev_mode(host, configured=None, forced=False) == (False, None)


@pytest.mark.parametrize(("configured", "forced"), [(True, False), (None, True), (False, True)])
def test_forced_on_a_public_host_is_on_with_a_warning(configured: bool | None, forced: bool) -> None:
    on, warning = up_dev_mode("0.0.0.0", configured=configured, forced=forced)
    assert on
    assert warning is not None and "0.0.0.0" in warning and "/api/dev/token" in warning


def test_explicitly_off_stays_off_on_loopback() -> None:
    assert up_dev_mode("127.0.0.1", configured=False, forced=False) == (False, None)


def test_forced_on_loopback_needs_no_warning() -> None:
    assert up_dev_mode("127.0.0.1", configured=None, forced=True) == (True, None)
