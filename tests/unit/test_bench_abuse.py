"""The pure parts of `bench flood` and `bench overload`: the clients' parsing, the summaries,
the targets and the table rows (no system started)."""

from __future__ import annotations

from bench import report
from bench.abuse_report import flood_rows, flood_targets, overload_rows, overload_targets
from bench.http_flood import first_bytes, host_port, split_kinds
from bench.overload import POLITE, RUDE, answers_summary
from bench.overload_load import parse_head, request_bytes
from bench.stats import Phase


def test_the_flood_splits_its_connections_in_three_kinds() -> None:
    assert split_kinds(2000) == (666, 666, 668)
    assert sum(split_kinds(7)) == 7
    assert host_port("http://127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert host_port("http://[::1]:81/") == ("::1", 81)
    assert first_bytes("idle", "v", "t") == b""
    assert not first_bytes("slow headers", "v", "t").endswith(b"\r\n\r\n")  # never a whole head
    body_head = first_bytes("slow bodies", "v", "t")
    assert b"\r\n\r\n" in body_head and b"Content-Length: 500" in body_head


def test_a_response_head_gives_status_length_close_and_retry_after() -> None:
    head = parse_head(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 57\r\nretry-after: 1\r\n"
                      b"connection: close")
    assert (head.status, head.length, head.close, head.retry_after_s) == (503, 57, True, 1.0)
    head = parse_head(b"HTTP/1.1 202 Accepted\r\nContent-Length: 12")
    assert (head.status, head.length, head.close, head.retry_after_s) == (202, 12, False, 0.0)
    request = request_bytes("h", "v1", "tok", "k1", "hi")
    head_part, _, body = request.partition(b"\r\n\r\n")
    assert body == b'{"text":"hi"}' and f"Content-Length: {len(body)}".encode() in head_part
    assert b"Idempotency-Key: k1" in head_part


def _records() -> list[tuple[int, int, int, int, str]]:
    ms = 1_000_000
    return [(POLITE, 202, 0, 300 * ms, "a"), (POLITE, 503, 0, 10 * ms, ""), (POLITE, 503, 0, 20 * ms, ""),
            (RUDE, 503, 0, 5 * ms, ""), (RUDE, -1, 0, 30_000 * ms, ""), (int(Phase.WARMUP), 202, 0, ms, "w")]


def test_a_phase_summary_counts_its_own_answers_only() -> None:
    polite = answers_summary(_records(), POLITE, {f"{POLITE} backing off": 7}, 2.0)
    assert (polite["posted"], polite["accepted"], polite["refused"], polite["others"]) == (3, 1, 2, {})
    assert polite["share_refused"] == round(2 / 3, 4)
    assert polite["not_sent_backing_off"] == 7 and polite["accepted_per_s"] == 0.5
    assert polite["to_503_ms"].max == 20.0
    rude = answers_summary(_records(), RUDE, {}, 1.0)
    assert rude["others"] == {"-1": 1} and rude["slowest_answer_ms"] == 30_000.0


def _overload_result(records: list[tuple[int, int, int, int, str]]) -> dict[str, object]:
    phases = [{**answers_summary(records, p, {}, 1.0), "healthz": {"ms": {"max": 5.0}}} for p in (POLITE, RUDE)]
    return {"scenario": "overload", "overload": {"offered_per_s": 3000.0, "connections": 1000, "phases": phases},
            "database": {"missing": 0}, "video_rows": {"rows": 2, "accepted_all_phases": 2}}


def test_overload_targets_fail_on_anything_but_202_or_503_and_pass_otherwise() -> None:
    bad = {t["target"]: t["met"] for t in overload_targets(_overload_result(_records()))}
    assert bad["every post answered 202 or 503 (ignoring Retry-After)"] is False
    assert bad["every post answered 202 or 503 (honouring Retry-After)"] is True
    assert bad["202s stored, 503s not"] is True
    good = [r for r in _records() if r[1] != -1]
    assert all(t["met"] is not False for t in overload_targets(_overload_result(good)))
    table = report.grid(["metric", "system", "bare", "ratio"], overload_rows(_overload_result(good)))
    assert "clients honour Retry-After" in table and "clients ignore Retry-After" in table


def test_flood_targets_and_rows() -> None:
    result = {
        "scenario": "flood",
        "posting": {"measure": {"posted": 10, "accepted": 10, "http_ms": {"p99": 80.0}, "statuses": {"202": 10}}},
        "flood": {"asked": {"idle": 2, "slow headers": 2, "slow bodies": 2},
                  "held": {k: {"min": 1, "mean": 2.0, "max": 2} for k in ("idle", "slow headers", "slow bodies")},
                  "closed_by_server": {"idle": 3}, "answers_before_close": {"idle: none": 3},
                  "flood_process_cpu_s": 0.5},
    }
    assert all(t["met"] for t in flood_targets(result))
    result["posting"]["measure"]["accepted"] = 9  # type: ignore[index]
    assert not all(t["met"] for t in flood_targets(result))
    assert any("slow bodies held" in str(row[0]) for row in flood_rows(result))
