"""The soak benchmark's pure parts: the RSS trend and verdict (bench.memory), which video a
comment goes to, and the subscriber's seq check (bench.soak_load); `livecomments bench soak` runs them."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bench.memory import FLAT_MB_PER_MIN, MB, slope_per_minute, trend
from bench.report import check_targets, memory_rows
from bench.soak import by_design, delivery_check, judge, process_names
from bench.soak_load import RecentViews, SeqChecker, Texts, VideoPicker, video_ids


def test_the_slope_is_least_squares_in_mb_per_minute() -> None:
    points = [(t, 100 * MB + int(t * MB / 60)) for t in range(0, 600, 5)]  # 1 MB/min exactly
    assert slope_per_minute(points) == pytest.approx(1.0, rel=1e-3)
    assert slope_per_minute([(0, 5 * MB), (10, 5 * MB), (20, 5 * MB)]) == 0
    assert slope_per_minute(points[:2]) is None


def test_the_trend_leaves_out_the_first_half_where_caches_fill() -> None:
    # grows 30 MB in the first half (caches filling), then flat with noise
    rng = random.Random(3)
    points = [(float(t), int((50 + min(t, 300) / 10 + rng.uniform(-0.5, 0.5)) * MB)) for t in range(0, 601, 5)]
    flat = trend("bridge", points, 0.0, 600.0)
    assert flat is not None and flat.flat is True and flat.start_mb == pytest.approx(50, abs=0.6)
    assert flat.end_mb == pytest.approx(80, abs=0.6) and flat.samples == 121
    leaking = trend("web", [(float(t), 50 * MB + t * 20_000) for t in range(0, 601, 5)], 0.0, 600.0)
    assert leaking is not None and leaking.flat is False  # 1.1 MB/min all along
    assert leaking.to_dict()["verdict"] == "GROWING"
    assert trend("gone", [(700.0, MB)], 0.0, 600.0) is None
    assert FLAT_MB_PER_MIN > 0


def test_the_picker_makes_a_few_videos_hot_and_reaches_the_long_tail() -> None:
    videos = video_ids(1000)
    picker = VideoPicker(videos, uniform_share=0.3, rng=random.Random(1))
    counts = Counter(picker.pick() for _ in range(6000))  # 6 per video, as the soak's default run
    top = [v for v, _n in counts.most_common(3)]
    assert top[0] == videos[0] and set(top) <= set(videos[:5])
    assert counts[videos[0]] > 50 * 6  # far above a fair share
    assert len(counts) > 900  # nearly every video gets some
    assert sum(1 for n in counts.values() if n <= 2) > 250  # and many only one or two


def test_the_checker_counts_gaps_and_duplicates() -> None:
    checker = SeqChecker()
    checker.take_batch(b'{"video_id":"a","events":[{"type":"comment","seq":1},{"type":"delete","seq":2}]}')
    checker.take("a", [2, 3, 5])  # 2 again, then 4 missing
    checker.take("b", [2])  # b's first batch should start at 1
    summary = checker.summary()
    assert (summary["events"], summary["duplicates"], summary["gaps"], summary["missing"]) == (6, 1, 2, 2)
    assert checker.last == {"a": 5, "b": 2}
    assert delivery_check(checker.last, {"a": 5, "b": 3, "c": 1})["videos_not_current"] == 2
    assert delivery_check(checker.last, None) is None


def test_processes_are_named_one_by_one_and_the_verdict_is_a_target() -> None:
    assert process_names({"web": [1, 2, 3], "bridge": [4]}) == {
        "web (main)": [1], "web worker 1": [2], "web worker 2": [3], "bridge": [4]}
    result = {"scenario": "soak", "memory": {"flat_under_mb_per_min": 0.5, "all_flat": False, "processes": [
        {"process": "bridge", "start_mb": 50.0, "end_mb": 60.0, "growth_mb": 10.0, "peak_mb": 61.0,
         "slope_mb_per_min": 1.2, "samples": 120, "verdict": "GROWING"}]}}
    [memory] = check_targets(result)
    assert memory["met"] is False and "bridge 1.20" in memory["measured"]
    assert memory_rows(result)[0][-1] == "GROWING"


def test_texts_are_words_of_a_fixed_vocabulary_the_first_ones_frequent() -> None:
    texts = Texts(random.Random(5), words=100)
    drawn = [texts.next() for _ in range(2000)]
    words = Counter(w for t in drawn for w in t.split(" "))
    assert set(words) <= set(texts.vocabulary) and all(2 <= len(t.split(" ")) <= 12 for t in drawn)
    assert words[texts.vocabulary[0]] > 5 * words[texts.vocabulary[-1]]  # Zipf: a few words most of the time
    assert Texts(random.Random(5), words=100).next() == Texts(random.Random(5), words=100).next()


def test_what_grows_by_design_is_taken_off_the_slope() -> None:
    views = RecentViews()
    views.take("live/videos/a/recent", b'{"video_id":"a","seq":2,"comments":[{},{}]}', now=0.0)
    views.take("live/videos/b/recent", b'{"video_id":"b","seq":1,"comments":[{}]}', now=100.0)
    summary = views.summary(now=120.0)  # a's window went a minute after its last publish; b's is held
    assert summary["videos"] == 2 and summary["videos_in_windows"] == 1 and summary["window_comments"] == 1
    design = by_design({"measure_start": {"payload_bytes": MB, "window_comments": 1024},
                        "end": {"payload_bytes": 11 * MB, "window_comments": 11 * 1024, "videos": 2}}, 600.0)
    assert design["broker"]["mb_per_min"] == 1.0 and design["bridge"]["mb_per_min"] == 1.0
    broker = {"process": "broker (amqtt)", "slope_mb_per_min": 1.3}
    web = {"process": "web worker 1", "slope_mb_per_min": 0.6}
    judge(broker, design)
    judge(web, design)
    assert broker["unexplained_mb_per_min"] == pytest.approx(0.3) and broker["verdict"] == "flat"
    assert web["by_design_mb_per_min"] == 0.0 and web["verdict"] == "GROWING"
