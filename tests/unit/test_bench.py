"""The benchmark's pure parts (MQTT codec, statistics, targets); tests/integration/test_bench_run.py runs it."""

from __future__ import annotations

import struct
import time

import orjson
import pytest

from bench import mqtt
from bench.monitor import Sample, cpu_by_role
from bench.report import (
    byte_rows,
    bytes_by_kind_line,
    check_targets,
    comment_steps,
    comparison_rows,
    cost_of,
    grid,
    jsonable,
    role_cpu,
    table,
)
from bench.run import delivery_summary
from bench.stats import (
    Histogram,
    KeySet,
    LatencySummary,
    Phase,
    bench_text,
    bench_texts_of_batch,
    bytes_by_kind,
    count_in,
    cpu_at,
    cpu_ms_per,
    cpu_percent,
    key_of,
    latency_ms,
    loss_of,
    parse_bench_text,
    parse_histograms,
    percentile,
    rate_summary,
    ratio,
    second_of,
    throughput,
    topic_kind,
    total_loss,
)
from bench.workers import (
    RECENT_GRACE_S,
    SNAPSHOT_WAIT_S,
    ViewerConfig,
    ViewerGroup,
    ViewerState,
    bare_payload,
    ingest_submission,
    publish_size,
    snapshot_leave_at,
    unsubscribe_packet,
)

# --- the MQTT codec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_matches_the_spec_table(n: int, encoded: bytes) -> None:
    assert mqtt.encode_length(n) == encoded
    packet = bytes([0x30]) + encoded
    if n < 100_000:  # decode it back through a whole packet
        body = b"\x00\x01t" + b"x" * (n - 3) if n >= 3 else None
        if body is not None:
            assert mqtt.Decoder().feed(packet + body)[0].body == body


@pytest.mark.parametrize("n", [-1, 268_435_456])
def test_remaining_length_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        mqtt.encode_length(n)


def test_connect_packet_bytes() -> None:
    packet = mqtt.connect("c1", 60, username="u", password="p")
    assert packet == (
        b"\x10\x14"  # CONNECT, remaining length 20
        b"\x00\x04MQTT\x04"  # protocol name and level 4 (3.1.1)
        b"\xc2"  # username, password, clean session
        b"\x00\x3c"  # keepalive 60
        b"\x00\x02c1\x00\x01u\x00\x01p"
    )
    assert mqtt.connect("c", 10) == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01c"


def test_subscribe_packet_bytes() -> None:
    assert mqtt.subscribe(7, [("a/b", 0), ("c", 1)]) == b"\x82\x0c\x00\x07\x00\x03a/b\x00\x00\x01c\x01"
    with pytest.raises(ValueError):
        mqtt.subscribe(1, [])


def test_publish_round_trip_qos0_and_qos1() -> None:
    q0 = mqtt.publish("live/x", b"hello")
    assert q0 == b"\x30\x0d\x00\x06live/xhello"
    q1 = mqtt.publish("t", b"p", 1, retain=True, packet_id=258)
    packets = mqtt.Decoder().feed(q0 + q1)
    assert [mqtt.parse_publish(p) for p in packets] == [
        mqtt.Publish("live/x", b"hello", 0, False, None),
        mqtt.Publish("t", b"p", 1, True, 258),
    ]
    assert mqtt.publish_topic(packets[1].body) == b"t"
    with pytest.raises(ValueError):
        mqtt.publish("t", b"", 1)  # QoS 1 without a packet id
    with pytest.raises(ValueError):
        mqtt.publish("t", b"", 2, packet_id=1)


def test_decoder_reassembles_packets_split_anywhere() -> None:
    big = mqtt.publish("live/videos/v/comments", b"x" * 300)  # a two-byte remaining length
    stream = mqtt.connect("c", 5) + big + mqtt.PINGREQ + big
    for cut in range(1, 8):
        decoder = mqtt.Decoder()
        packets = []
        for i in range(0, len(stream), cut):
            packets += decoder.feed(stream[i:i + cut])
        assert [p.type for p in packets] == [mqtt.PacketType.CONNECT, mqtt.PacketType.PUBLISH,
                                             mqtt.PacketType.PINGREQ, mqtt.PacketType.PUBLISH]
        assert mqtt.parse_publish(packets[3]).payload == b"x" * 300
        assert decoder.pending == 0


def test_decoder_waits_for_an_incomplete_length_and_body() -> None:
    decoder = mqtt.Decoder()
    assert decoder.feed(b"\x30\x80") == []  # the length continues
    assert decoder.feed(b"\x01\x00\x01t") == []  # 128 bytes announced, 3 here
    assert decoder.pending == 6
    packets = decoder.feed(b"y" * 125)
    assert len(packets) == 1 and len(packets[0].body) == 128


def test_decoder_rejects_a_five_byte_length() -> None:
    with pytest.raises(mqtt.ProtocolError):
        mqtt.Decoder().feed(b"\x30\xff\xff\xff\xff\x01")


def test_acks() -> None:
    connack, suback, puback, pingresp = mqtt.Decoder().feed(
        b"\x20\x02\x00\x05" + b"\x90\x04\x00\x07\x00\x80" + mqtt.puback(9) + b"\xd0\x00")
    assert mqtt.connack_code(connack) == 5
    assert mqtt.suback_codes(suback) == (7, [0, 0x80])
    assert mqtt.puback_id(puback) == 9
    assert pingresp.type == mqtt.PacketType.PINGRESP
    with pytest.raises(mqtt.ProtocolError):
        mqtt.connack_code(suback)
    with pytest.raises(mqtt.ProtocolError):
        mqtt.parse_publish(connack)


def test_disconnect_and_pingreq() -> None:
    assert mqtt.DISCONNECT == b"\xe0\x00"
    assert mqtt.PINGREQ == b"\xc0\x00"


# --- comment tags -------------------------------------------------------------------------------


def test_bench_text_round_trip() -> None:
    assert parse_bench_text(bench_text(Phase.MEASURE, 42, 123_456_789)) == (1, 42, 123_456_789)


@pytest.mark.parametrize("text", [None, 5, "hello", "bench", "bench 1 2", "bench 9 1 1", "bench 1 -1 5",
                                  "bench 1 x 5", "bench 1 2 3 4", "benchy 1 2 3"])
def test_other_texts_are_not_benchmark_comments(text: object) -> None:
    assert parse_bench_text(text) is None


def test_bench_texts_of_a_batch_keep_order_and_skip_other_events() -> None:
    doc = {"video_id": "v", "events": [
        {"type": "comment", "seq": 1, "comment": {"text": bench_text(1, 5, 100)}},
        {"type": "delete", "seq": 2, "id": "x"},
        {"type": "comment", "seq": 3, "comment": {"text": "a person's comment"}},
        {"type": "comment", "seq": 4, "comment": {"text": bench_text(0, 2, 90)}},
    ]}
    assert bench_texts_of_batch(doc) == [(1, 5, 100), (0, 2, 90)]
    assert bench_texts_of_batch({"events": "nope"}) == []
    assert bench_texts_of_batch([]) == []


def test_bare_payload_is_an_event_batch_of_one() -> None:
    doc = orjson.loads(bare_payload(Phase.BARE, 7, 1_000_000_000))
    assert bench_texts_of_batch(doc) == [(2, 7, 1_000_000_000)]
    assert doc["events"][0]["seq"] == 8


def test_keys_interleave_without_collisions() -> None:
    keys = {key_of(w, n, 3) for w in range(3) for n in range(100)}
    assert keys == set(range(300))
    with pytest.raises(ValueError):
        key_of(3, 0, 3)


# --- percentiles, latency, loss, rates ------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([15, 20, 35, 40, 50], 30) == 20  # the textbook example
    assert percentile([15, 20, 35, 40, 50], 40) == 20
    assert percentile([15, 20, 35, 40, 50], 50) == 35
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    summary = LatencySummary.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert summary == LatencySummary(count=5, min=1.0, p50=3.0, p90=5.0, p99=5.0, max=5.0, mean=3.0)
    assert LatencySummary.of([]) is None
    assert latency_ms(1_000_000, 3_500_000) == 2.5


def test_key_set_counts_repeats() -> None:
    keys = KeySet()
    assert keys.add(0) and keys.add(9) and keys.add(1000)
    assert not keys.add(9)
    assert len(keys) == 3 and keys.duplicates == 1
    assert 9 in keys and 8 not in keys and 5000 not in keys and -1 not in keys and "9" not in keys
    assert keys.keys() == [0, 9, 1000]


def test_loss_per_receiver_and_in_total() -> None:
    got = KeySet()
    for k in (1, 2, 3, 3, 99):
        got.add(k)
    loss = loss_of([1, 2, 3, 4], got)
    assert (loss.expected, loss.received, loss.missing, loss.unexpected, loss.duplicates) == (4, 3, 1, 1, 1)
    assert loss.rate == 0.25
    complete = KeySet()
    for k in (1, 2, 3, 4):
        complete.add(k)
    totals = total_loss([loss, loss_of([1, 2, 3, 4], complete)])
    assert (totals.receivers, totals.missing_total, totals.receivers_missing_any, totals.worst_missing) == (2, 1, 1, 1)
    assert totals.rate == 1 / 8
    assert total_loss([]).rate == 0.0
    with pytest.raises(ValueError):
        total_loss([loss, loss_of([1], complete)])


def test_rates_per_receiver() -> None:
    origin = 10_000_000_000
    assert second_of(origin + 1_999_999_999, origin) == 1
    assert second_of(origin - 1, origin) == -1
    a = {0: 5, 1: 10, 2: 20, 3: 100}
    b = {1: 2, 2: 2}
    assert count_in(a, 1, 2) == 30
    summary = rate_summary([a, b], 1, 2)
    assert (summary.seconds, summary.max_mean, summary.max_peak) == (2, 15.0, 20)
    assert summary.mean_of_means == (15.0 + 2.0) / 2
    with pytest.raises(ValueError):
        rate_summary([a], 3, 2)


def test_small_arithmetic() -> None:
    assert throughput(100, 4) == 25 and throughput(1, 0) == 0
    assert ratio(10, 4) == 2.5 and ratio(None, 4) is None and ratio(1, 0) is None
    assert cpu_percent(1.0, 1.5, 2.0) == 25.0 and cpu_percent(1.0, 2.0, 0) == 0.0


# --- cost per unit of work, and a comment's steps ------------------------------------------------------

METRICS_TEXT = """\
# HELP livecomments_bridge_commit_seconds Database transaction time of one batch
# TYPE livecomments_bridge_commit_seconds histogram
livecomments_bridge_commit_seconds_bucket{le="0.005"} 2.0
livecomments_bridge_commit_seconds_bucket{le="0.01"} 6.0
livecomments_bridge_commit_seconds_bucket{le="+Inf"} 8.0
livecomments_bridge_commit_seconds_count 8.0
livecomments_bridge_commit_seconds_sum 0.09
livecomments_bridge_ingest_messages_total{result="valid"} 8.0
livecomments_bridge_submissions_bucket{le="1",outcome="x"} 3.0
"""


def test_prometheus_histograms_parse_subtract_and_give_quantiles() -> None:
    hists = parse_histograms(METRICS_TEXT)
    assert set(hists) == {"livecomments_bridge_commit_seconds"}  # labelled buckets and counters are not histograms
    h = hists["livecomments_bridge_commit_seconds"]
    assert h.buckets == ((0.005, 2.0), (0.01, 6.0), (float("inf"), 8.0)) and h.count == 8 and h.sum == 0.09
    before = Histogram(((0.005, 2.0), (0.01, 2.0), (float("inf"), 2.0)), 0.01, 2)
    delta = h.minus(before)
    assert delta.buckets == ((0.005, 0.0), (0.01, 4.0), (float("inf"), 6.0)) and delta.count == 6
    assert delta.quantile(0.5) == pytest.approx(0.005 + 0.005 * 3 / 4)  # rank 3 of 6: 3/4 into (5 ms, 10 ms]
    assert delta.quantile(0.99) == 0.01  # in +Inf: the highest finite bound
    assert h.quantile(0.1) == pytest.approx(0.005 * 0.8 / 2)  # the first bucket starts at 0
    assert Histogram((), 0, 0).quantile(0.5) is None and h.minus(None) is h


def test_cpu_between_samples_is_interpolated() -> None:
    points = [(10.0, 1.0), (11.0, 1.5), (12.0, 3.5)]
    assert cpu_at(points, 10.5) == 1.25 and cpu_at(points, 11.5) == 2.5
    assert cpu_at(points, 9.0) == 1.0 and cpu_at(points, 13.0) == 3.5 and cpu_at([], 1.0) is None
    samples = [Sample(10.0, {1: 1.0, 2: 0.0}, {}, {1: "web", 2: "web"}, 0.0),
               Sample(12.0, {1: 3.0, 2: 1.0, 3: 5.0}, {}, {1: "web", 2: "web", 3: "bridge"}, 0.0),
               Sample(11.0, {1: 2.0, 2: 0.5}, {}, {1: "web", 2: "web"}, 0.0)]  # out of order: sorted by time
    assert cpu_by_role(samples, 10.5, 11.5) == {"web": pytest.approx(1.5), "bridge": 0.0}
    assert cpu_ms_per(0.5, 1000) == 0.5 and cpu_ms_per(None, 10) is None and cpu_ms_per(1.0, 0) is None


def test_cost_per_unit_of_work_and_budgets() -> None:
    cpu = {"web": 3.0, "broker (mosquitto)": 0.5, "bridge": 0.2, "load: posters": 9.0}
    assert role_cpu(cpu, "broker") == 0.5 and role_cpu(cpu, "load") is None and role_cpu(cpu, "redis") is None
    rows = {c["part"]: c for c in cost_of(cpu, [("web", "accepted post", 2000), ("bridge", "comment", 2000),
                                               ("broker", "delivery", 10_000), ("redis", "comment", 2000)])}
    assert set(rows) == {"web", "bridge", "broker"}  # no redis process: no row
    assert rows["web"]["ms_per_unit"] == 1.5 and rows["web"]["budget_ms"] == 1.0 and rows["web"]["met"] is False
    assert rows["bridge"]["ms_per_unit"] == 0.1 and rows["bridge"]["met"] is True
    assert rows["broker"]["ms_per_unit"] == 0.05 and rows["broker"]["met"] is None


def test_a_comments_steps_name_how_each_is_measured() -> None:
    hists = parse_histograms(METRICS_TEXT)
    steps = comment_steps(LatencySummary.of([2.0, 4.0]), hists, LatencySummary.of([10.0, 30.0]))
    assert [s["step"] for s in steps] == ["post → HTTP 202 (accepted)", "accepted → committed by the bridge",
                                          "bridge transaction (per batch)", "committed → published (per batch)",
                                          "post → at the viewer"]
    by = {s["step"]: s for s in steps}
    assert by["post → HTTP 202 (accepted)"]["p99_ms"] == 4.0 and by["post → at the viewer"]["n"] == 2
    assert by["bridge transaction (per batch)"]["n"] == 8 and by["bridge transaction (per batch)"]["p50_ms"] > 0
    assert by["accepted → committed by the bridge"]["n"] == 0  # that histogram was not in the scrape
    assert all(s["how"] for s in steps)
    unscraped = comment_steps(None, None, None, "x", bridge=True)
    assert [s["step"] for s in unscraped][-1] == "x" and "no bridge metrics" in unscraped[0]["how"]
    assert [s["step"] for s in comment_steps(None, None, None, "only", bridge=False)] == ["only"]


def test_post_targets_and_table() -> None:
    result = {
        "scenario": "post", "started_at": "t", "web_cpu_ms_per_post": 0.9, "ratio": {"cpu_per_post": 2.7},
        "measure": {"loss": {"missing_total": 0}, "loss_warmup": {"missing_total": 0}},
        "database": {"accepted_ids": 10, "missing": 0, "statuses": {"approved": 10}},
        "posting": {"measure": {"posted": 10, "accepted": 10, "accepted_per_s": 5.0,
                                "http_ms": LatencySummary.of([1.0, 3.0])}},
        "bare_endpoint": {"posted": 10, "accepted": 10, "accepted_per_s": 5.0, "cpu_ms_per_post": 0.33,
                          "http_ms": LatencySummary.of([0.5])},
        "cost": cost_of({"web": 0.009}, [("web", "accepted post", 10)]),
        "steps": comment_steps(LatencySummary.of([1.0]), None, LatencySummary.of([5.0])),
    }
    met = {t["target"]: t["met"] for t in check_targets(result)}
    assert met == {"zero loss": True, "web CPU per accepted post": True,
                   "vs the bare endpoint, same server and workers": False}
    text = table(result)
    assert "bare endpoint" in text and "CPU per unit of work" in text and "where a comment's time goes" in text
    assert "2.70" in text and "accepted post" in text


# --- targets and output ------------------------------------------------------------------------------


def test_targets_are_judged_from_the_figures() -> None:
    result = {
        "scenario": "hot",
        "measure": {"latency_ms": LatencySummary.of([10.0, 200.0]), "deliveries_per_s": 90_000,
                    "loss": {"missing_total": 0}, "loss_warmup": {"missing_total": 0},
                    "messages_per_viewer_per_s": {"max_mean": 12.0}},
        "bare": {"deliveries_per_s": 20_000},
        "database": {"accepted_ids": 10, "missing": 0, "statuses": {"approved": 10}},
    }
    met = {t["target"]: t["met"] for t in check_targets(result)}
    assert met == {"zero loss": True, "post → screen p99": False, "messages per viewer": True,
                   "batching gain": True}
    result["database"] = {"accepted_ids": 10, "missing": 1, "statuses": {"approved": 9}}
    assert {t["target"]: t["met"] for t in check_targets(result)}["zero loss"] is False


def test_json_and_grid_helpers() -> None:
    doc = jsonable({1: LatencySummary.of([1.0]), "x": (float("nan"), 2)})
    assert doc == {"1": {"count": 1, "min": 1.0, "p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0, "mean": 1.0},
                   "x": [None, 2]}
    assert grid(["a", "bb"], [[1, None], [True, 2.5]]).splitlines() == ["a    bb", "---  ----", "1    —", "yes  2.50"]


# --- bytes per viewer per second, and by topic kind --------------------------------------------------------

S = 1_000_000_000  # ns


def made_up_viewer(bytes_per_second: dict[int, int], batch_bytes_per_second: dict[int, int],
                   bytes_by_topic: dict[str, int]) -> dict[str, object]:
    """A viewer's results as the viewers' worker hands them over, with one comment (key 0) received."""
    got = KeySet()
    got.add(0)
    return {"loss": {Phase.MEASURE: loss_of([0], got)}, "per_second": {s: 1 for s in bytes_per_second},
            "messages": len(bytes_per_second), "by_topic": {}, "bytes": sum(bytes_per_second.values()),
            "bytes_per_second": bytes_per_second, "batch_bytes": sum(batch_bytes_per_second.values()),
            "batch_bytes_per_second": batch_bytes_per_second, "bytes_by_topic": bytes_by_topic, "alive": True}


def test_delivery_summary_gives_bytes_per_viewer_per_second_in_the_window() -> None:
    per_viewer = [
        made_up_viewer({0: 9_999, 1: 1_000, 2: 3_000}, {1: 800, 2: 2_000}, {}),  # second 0: before the window
        made_up_viewer({1: 500, 2: 500, 3: 7_777}, {1: 400, 2: 400, 3: 7_000}, {}),  # second 3: after it
    ]
    summary = delivery_summary(per_viewer, {Phase.MEASURE: [5.0, 7.0]}, Phase.MEASURE, [0], origin=0,
                               t0=1 * S, t1=3 * S, seconds=2.0)
    assert summary["bytes_per_viewer_per_s"] == {"receivers": 2, "seconds": 2, "mean_of_means": 1_250.0,
                                                 "max_mean": 2_000.0, "max_peak": 3_000}
    assert summary["batch_bytes_per_viewer_per_s"] == {"receivers": 2, "seconds": 2, "mean_of_means": 900.0,
                                                       "max_mean": 1_400.0, "max_peak": 2_000}
    assert summary["messages_per_viewer_per_s"]["max_mean"] == 1.0  # beside it, as before


def test_bytes_by_topic_kind_and_their_shares() -> None:
    assert topic_kind("live/videos/v1/comments") == "comments" and topic_kind("live/videos/v1/state") == "state"
    assert topic_kind("live/bench/bare-v1") is None and topic_kind("live/videos/v1") is None
    doc = bytes_by_kind([
        {"live/videos/v/comments": 600, "live/videos/v/recent": 300, "live/bench/bare-v": 5_000},
        {"live/videos/v/comments": 200, "live/videos/v/state": 100, "live/videos/v/reactions": 0},
    ])
    assert doc["total"] == 1_200  # the bare-broker topic is not counted
    assert list(doc["by_kind"]) == ["comments", "recent", "state", "reactions"]  # the most bytes first
    assert doc["by_kind"]["comments"] == {"bytes": 800, "per_receiver": 400.0, "share": 0.6667}
    assert doc["by_kind"]["recent"]["share"] == 0.25 and doc["by_kind"]["reactions"]["share"] == 0.0
    assert bytes_by_kind([]) == {"total": 0, "by_kind": {}}


def test_the_table_prints_bytes_per_viewer_beside_the_comment_batches() -> None:
    def rates(mean: float, busiest: float, peak: int) -> dict[str, float]:
        return {"receivers": 3, "seconds": 2, "mean_of_means": mean, "max_mean": busiest, "max_peak": peak}

    result = {
        "scenario": "embedded", "started_at": "t",
        "measure": {"messages_per_viewer_per_s": rates(4.0, 5.0, 7),
                    "bytes_per_viewer_per_s": rates(2_500.0, 3_000.0, 4_200),
                    "batch_bytes_per_viewer_per_s": rates(2_000.0, 2_400.0, 3_900)},
        "bare": {"bytes_per_viewer_per_s": rates(1_000.0, 1_100.0, 1_500),
                 "batch_bytes_per_viewer_per_s": rates(1_000.0, 1_100.0, 1_500)},
        "viewer_bytes": bytes_by_kind([{"live/videos/v/comments": 750, "live/videos/v/recent": 250}]),
    }
    rows = {r[0]: r for r in comparison_rows(result)}
    assert rows["bytes/s per viewer (avg)"] == ["bytes/s per viewer (avg)", "2,500 (comment batches: 2,000)",
                                                "1,000 (comment batches: 1,000)", None]
    assert rows["bytes/s per viewer (busiest, avg)"][1] == "3,000 (comment batches: 2,400)"
    assert rows["bytes in 1 s per viewer (peak)"][1:3] == ["4,200 (comment batches: 3,900)",
                                                           "1,500 (comment batches: 1,500)"]
    labels = [r[0] for r in comparison_rows(result)]
    assert labels.index("bytes/s per viewer (avg)") == labels.index("msgs in 1 s per viewer (peak)") + 1
    assert bytes_by_kind_line(result) == ("viewer bytes by topic (every viewer, whole connection, 1,000 B): "
                                          "comments 75.0%, recent 25.0%")
    text = table(result)
    assert "2,500 (comment batches: 2,000)" in text and "comments 75.0%, recent 25.0%" in text
    assert byte_rows({}, {}) == [] and bytes_by_kind_line({}) is None  # an older result: no byte rows
    assert not any(r[0].startswith("bytes") for r in comparison_rows({"scenario": "normal"}))


def test_the_bridge_table_shows_the_ingest_lag_step() -> None:
    lag = parse_histograms(METRICS_TEXT.replace("commit_seconds", "ingest_lag_seconds"))
    result = {"scenario": "bridge", "started_at": "t", "notes": [],
              "steps": comment_steps(None, lag, LatencySummary.of([3.0]), "ingest publish → on live/")}
    step = {s["step"]: s for s in result["steps"]}["accepted → committed by the bridge"]
    assert step["n"] == 8 and step["p50_ms"] is not None and step["p50_ms"] > 0
    text = table(result)
    assert "accepted → committed by the bridge" in text and "ingest lag not shown" not in text


def test_ingest_and_bare_payload_ts_are_wall_clock_milliseconds() -> None:
    """`ts` is ms since the Unix epoch, as the contract has it (the bridge's ingest lag is wall-clock);
    the monotonic send time stays in the text, for the load generator's own latency."""
    import time

    sub = ingest_submission("v", Phase.MEASURE, 42, 123_456_789)
    assert parse_bench_text(sub.text) == (Phase.MEASURE, 42, 123_456_789)
    assert sub.video_id == "v" and sub.parent_id is None and isinstance(sub.ts, int)
    assert abs(sub.ts - time.time() * 1000) < 3_600_000  # the epoch's clock, not the monotonic one
    ts = orjson.loads(bare_payload(Phase.BARE, 7, 5))["events"][0]["comment"]["ts"]
    assert isinstance(ts, int) and abs(ts - time.time() * 1000) < 3_600_000


# --- the viewers' subscriptions and byte counts ----------------------------------------------------------


def test_unsubscribe_packet_bytes() -> None:
    assert unsubscribe_packet(7, ["a/b"]) == b"\xa2\x07\x00\x07\x00\x03a/b"


@pytest.mark.parametrize("body", [0, 1, 125, 126, 16_000, 16_381, 16_382, 2_100_000])
def test_publish_size_is_the_packet_on_the_wire(body: int) -> None:
    assert publish_size(body) == 1 + len(mqtt.encode_length(body)) + body


class FakeConnection:
    def __init__(self, tag: ViewerState) -> None:
        self.tag = tag
        self.sent: list[bytes] = []
        self.ids = 0
        self.closed = type("NotDone", (), {"done": staticmethod(lambda: False)})()

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def packet_id(self) -> int:
        self.ids += 1
        return self.ids


TOPICS = ["live/videos/v/comments", "live/videos/v/recent", "live/videos/v/state"]


def viewer_group(subscribed_s: float = 0.0) -> tuple[ViewerGroup, FakeConnection, list[float]]:
    """One viewer, subscribed at `subscribed_s`; the delays of the timers it set (none run)."""
    group = ViewerGroup(ViewerConfig(0, 1, "mqtt://127.0.0.1:1883", TOPICS, [TOPICS[0]], origin_ns=0))
    timers: list[float] = []
    group.call_later = lambda delay, _callback: timers.append(delay)
    conn = FakeConnection(ViewerState(holding=set(group.snapshot_topics)))
    group.connections.append(conn)  # type: ignore[arg-type]
    group.subscribed(conn, int(subscribed_s * 1e9))  # type: ignore[arg-type]
    return group, conn, timers


def deliver(group: ViewerGroup, conn: FakeConnection, topic: str, payload: bytes, at_s: float) -> int:
    raw = mqtt.publish(topic, payload)
    [packet] = mqtt.Decoder().feed(raw)
    group.on_publish(conn, packet, int(at_s * 1e9))  # type: ignore[arg-type]
    return len(raw)


def due(group: ViewerGroup, conn: FakeConnection, at_s: float) -> None:
    """A leave timer fires at `at_s`."""
    group.leave_due(conn, int(at_s * 1e9))  # type: ignore[arg-type]


def test_the_snapshot_grace_rule() -> None:
    assert RECENT_GRACE_S == 1.0  # as webapp/static/subscriptions.js RECENT_GRACE_MS and viewer/client.py
    assert snapshot_leave_at(10**9, 10**9 + 20_000_000) == 2 * 10**9 + 20_000_000  # the snapshot + the grace
    assert snapshot_leave_at(10**9) == int((1 + SNAPSHOT_WAIT_S + RECENT_GRACE_S) * 1e9)  # none: the wait + the grace
    late = int((1 + SNAPSHOT_WAIT_S + 0.3) * 1e9)
    assert snapshot_leave_at(10**9, late) == int((1 + SNAPSHOT_WAIT_S + RECENT_GRACE_S) * 1e9), "no second start"


def test_viewers_keep_recent_for_the_grace_then_leave_it_and_count_bytes_by_kind() -> None:
    group, conn, timers = viewer_group()
    assert group.snapshot_topics == {TOPICS[1].encode()}
    assert timers == [pytest.approx(SNAPSHOT_WAIT_S + RECENT_GRACE_S)]
    snapshot = b'{"video_id":"v","seq":0,"comments":[]}' + b" " * 200
    recent = deliver(group, conn, TOPICS[1], snapshot, 0.1)
    assert conn.sent == [], "kept after the retained snapshot"
    assert timers[1:] == [pytest.approx(RECENT_GRACE_S)], "the grace from the snapshot"
    assert deliver(group, conn, TOPICS[1], snapshot, 0.35) == recent  # a fresher one, in the grace
    assert conn.sent == [] and len(timers) == 2, "the grace runs from the first one"
    due(group, conn, 0.1 + RECENT_GRACE_S - 0.001)
    assert conn.sent == [], "not before its time"
    due(group, conn, 0.1 + RECENT_GRACE_S)
    assert conn.sent == [unsubscribe_packet(1, [TOPICS[1]])], "left after the grace"
    deliver(group, conn, TOPICS[1], snapshot, 1.15)  # sent before the UNSUBACK
    assert len(conn.sent) == 1, "left once"
    state_size = deliver(group, conn, TOPICS[2], b'{"chat":"open"}', 1.2)
    batch = deliver(group, conn, TOPICS[0], bare_payload(Phase.MEASURE, 1, 5), 1.5)
    due(group, conn, SNAPSHOT_WAIT_S + RECENT_GRACE_S)  # the first timer: nothing left to leave
    assert len(conn.sent) == 1
    assert deliver(group, conn, TOPICS[1], snapshot, 3.0) and len(conn.sent) == 1, "nothing held after the grace"

    [viewer] = group.results({})["viewers"]
    assert viewer["messages"] == 6
    assert viewer["bytes"] == 4 * recent + state_size + batch
    assert viewer["batch_bytes"] == batch
    assert viewer["bytes_per_second"] == {0: 2 * recent, 1: recent + state_size + batch, 3: recent}
    assert viewer["batch_bytes_per_second"] == {1: batch}
    assert viewer["bytes_by_topic"] == {TOPICS[1]: 4 * recent, TOPICS[2]: state_size, TOPICS[0]: batch}


def test_viewers_without_a_retained_recent_leave_it_the_grace_after_the_wait() -> None:
    group, conn, _timers = viewer_group()
    due(group, conn, SNAPSHOT_WAIT_S)
    assert conn.sent == [], "the wait is over: the grace begins"
    deliver(group, conn, TOPICS[1], b'{"video_id":"v","seq":1,"comments":[]}', SNAPSHOT_WAIT_S + 0.2)
    assert conn.sent == [], "one of the grace is taken, and does not start it again"
    due(group, conn, SNAPSHOT_WAIT_S + RECENT_GRACE_S)
    assert conn.sent == [unsubscribe_packet(1, [TOPICS[1]])]
    deliver(group, conn, TOPICS[1], b'{"video_id":"v","seq":2,"comments":[]}', 3.0)  # in flight meanwhile
    assert len(conn.sent) == 1


def test_a_viewers_leave_timer_that_fires_early_is_set_again() -> None:
    group, conn, timers = viewer_group(subscribed_s=time.monotonic() + 60)  # its time is a minute away
    group.on_timer(conn)  # type: ignore[arg-type]
    assert conn.sent == [] and len(timers) == 2, "still held, and a timer again"


def test_strings_are_length_prefixed() -> None:
    """Strings inside packets carry a big-endian 16-bit length."""
    assert mqtt.encode_str("é") == struct.pack("!H", 2) + "é".encode()


def test_profile_summary_from_collapsed_stacks() -> None:
    from bench.flame import parse_collapsed, report

    profile = parse_collapsed([
        "main (app.py:1);handle (webapp/comments.py:10);wait (psycopg/connection.py:5) 6\n",
        "main (app.py:1);handle (webapp/comments.py:12) 3\n",
        "main (app.py:2);other (x.py:3) 1\n",
        "garbage\n",
        "main (app.py:1) notanumber\n",
    ])
    assert profile.total == 10
    assert profile.own["wait (psycopg/connection.py)"] == 6
    assert profile.own["handle (webapp/comments.py)"] == 3
    assert profile.inclusive["handle (webapp/comments.py)"] == 9
    assert profile.inclusive["main (app.py)"] == 10
    text = report(profile, top=5, only=["webapp/"])
    assert "90.0%  handle (webapp/comments.py)" in text and "psycopg" not in text
