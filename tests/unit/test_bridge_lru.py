"""The bridge's bounded per-video copies (bridge.lru.LruDict): at most `held` keys, the most recently put."""

from __future__ import annotations

import pytest

from bridge.lru import LruDict


def test_at_most_held_keys_the_least_recently_put_go() -> None:
    table: LruDict[str, int] = LruDict(3)
    for i in range(10):
        table.put_all({f"v{i}": i, "hot": i})  # "hot" is put with every batch
        assert len(table) <= 3
    assert table == {"v8": 8, "v9": 9, "hot": 9}


def test_putting_a_key_again_makes_it_the_most_recent_reading_does_not() -> None:
    table: LruDict[str, int] = LruDict(2)
    table.put_all({"a": 1, "b": 2})
    assert table.get("a") == 1  # a read
    table.put_all({"c": 3})
    assert "a" not in table and table == {"b": 2, "c": 3}
    table.put_all({"b": 20, "d": 4})
    assert table == {"b": 20, "d": 4}


def test_one_batch_bigger_than_the_bound_keeps_its_last_keys() -> None:
    table: LruDict[str, int] = LruDict(2)
    table.put_all({f"v{i}": i for i in range(5)})
    assert table == {"v3": 3, "v4": 4}
    with pytest.raises(ValueError, match="at least 1"):
        LruDict(0)
