"""The benchmark's pure parts (MQTT codec, statistics, targets) and one tiny run of it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import orjson
import pytest

from bench import mqtt
from bench.report import check_targets, grid, jsonable
from bench.stats import (
    KeySet,
    LatencySummary,
    Phase,
    bench_text,
    bench_texts_of_batch,
    count_in,
    cpu_percent,
    key_of,
    latency_ms,
    loss_of,
    parse_bench_text,
    percentile,
    rate_summary,
    ratio,
    second_of,
    throughput,
    total_loss,
)
from bench.workers import bare_payload

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


# --- a tiny real run -----------------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_embedded_smoke_run(tmp_path: Path) -> None:
    """3 s at 5 comments/s to 3 viewers on amqtt + SQLite: the numbers add up (no timing asserted)."""
    from livecomments.cli import main

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
    assert (path.with_suffix(".png")).stat().st_size > 0


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
