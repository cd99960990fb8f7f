"""One tiny real run of the benchmark (`livecomments bench embedded`): the numbers add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.timeout(240)
def test_embedded_smoke_run(tmp_path: Path) -> None:
    """3 s at 5 comments/s to 3 viewers on amqtt + SQLite: the numbers add up (no timing asserted)."""
    from wiring.cli import main

    out = tmp_path / "results"
    assert main(["bench", "embedded", "--duration", "3", "--rate", "5", "--viewers", "3", "--warmup", "1",
                 "--bare-duration", "2", "--out", str(out)]) == 0
    [path] = out.glob("embedded-*.json")
    doc = json.loads(path.read_text())

    assert doc["viewers"]["connected"] == 3 and doc["viewers"]["alive_at_end"] == 3
    posting = doc["posting"]
    assert posting["measure"]["posted"] == posting["measure"]["accepted"] == 15
    assert posting["warmup"]["accepted"] == 5
    assert doc["database"] == {"accepted_ids": 20, "found": 20, "missing": 0, "statuses": {"approved": 20},
                               "distinct_seq": 20, "with_seq": 20}

    measure = doc["measure"]
    assert measure["comments"] == 15 and measure["viewers"] == 3 and measure["deliveries"] == 45
    assert measure["loss"]["missing_total"] == 0 and measure["loss"]["duplicates_total"] == 0
    assert measure["loss_warmup"]["missing_total"] == 0
    lat = measure["latency_ms"]
    assert lat["count"] == 45
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert measure["messages_per_viewer_per_s"]["max_mean"] > 0
    assert measure["bytes_per_viewer_per_s"]["max_mean"] >= measure["batch_bytes_per_viewer_per_s"]["max_mean"] > 0
    assert "comments" in doc["viewer_bytes"]["by_kind"] and doc["viewer_bytes"]["total"] > 0
    assert sum(k["share"] for k in doc["viewer_bytes"]["by_kind"].values()) == pytest.approx(1, abs=1e-3)

    bare = doc["bare"]
    assert bare["comments"] == doc["bare_publisher"]["sent"] == 10 and bare["deliveries"] == 30
    assert bare["loss"]["missing_total"] == 0
    assert 0 < bare["latency_ms"]["p50"] <= bare["latency_ms"]["p99"] <= bare["latency_ms"]["max"]
    assert doc["ratio"]["latency_p50"] > 0

    roles = doc["processes"]["measure"]["roles"]
    assert {"web", "bridge", "broker (amqtt)", "load: viewers", "load: posters"} <= roles.keys()
    assert [t["target"] for t in doc["targets"]] == ["zero loss", "post → screen p99 (amqtt)"]
    assert doc["targets"][0]["met"] is True
    assert len(doc["machine"]["load_average_before"]) == 3
    cost = {c["part"]: c for c in doc["cost"]}
    assert {"web", "bridge", "broker"} <= cost.keys()
    assert cost["web"]["count"] == cost["bridge"]["count"] == 15 and cost["broker"]["count"] == 45
    steps = [s["step"] for s in doc["steps"]]
    assert steps[0] == "post → HTTP 202 (accepted)" and steps[-1] == "post → at the viewer"
    assert doc["steps"][-1]["n"] == 45
    assert (path.with_suffix(".png")).stat().st_size > 0
