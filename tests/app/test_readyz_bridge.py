"""/readyz's bridge check: every partition needs a live lease whose holder is connected to the
broker (read from bridge_leases; the bridges write it, tests.support.leases stands in here)."""

from __future__ import annotations

from flask import Flask

from tests.support.leases import bridge_running


def test_not_ready_while_no_bridge_holds_the_partitions(app: Flask) -> None:
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["checks"]["bridge"] is False and body["checks"]["database"] is True
    assert "bridge" in body["error"]["message"]


def test_ready_once_every_partition_has_a_connected_holder(app: Flask) -> None:
    bridge_running(app, count=3, connected=False)  # holders, not connected to the broker yet
    assert app.test_client().get("/readyz").get_json()["checks"]["bridge"] is False
    bridge_running(app, count=3, connected=True)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["checks"]["bridge"] is True


def test_not_ready_once_the_leases_expired(app: Flask) -> None:
    bridge_running(app, ttl_ms=-1)  # the bridge stopped renewing: SIGKILLed, or cut off
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["bridge"] is False
