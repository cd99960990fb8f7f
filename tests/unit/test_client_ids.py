"""The bridge's MQTT client id: derived from the data dir's secret, so nobody can guess it, and
the same across restarts, so the broker keeps its persistent session."""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.credentials import CREDENTIALS_FILE, ensure_credentials
from livecomments.config import Settings
from wiring.bridge import bridge_client_id

ID = re.compile(r"livecomments-bridge-(\d+)-of-(\d+)-([0-9a-f]{16})")


def _settings(data_dir: Path, index: int = 0, count: int = 1) -> Settings:
    return Settings(data_dir=data_dir, bridge_partition=f"{index}/{count}")


def test_stable_for_one_data_dir(tmp_path: Path) -> None:
    first = bridge_client_id(_settings(tmp_path))
    assert ID.fullmatch(first), first
    assert first.startswith("livecomments-bridge-0-of-1-")
    assert bridge_client_id(_settings(tmp_path)) == first


def test_differs_between_data_dirs_and_partitions(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert bridge_client_id(_settings(a)) != bridge_client_id(_settings(b))
    ids = [bridge_client_id(_settings(a, i, 3)) for i in range(3)]
    assert len(set(ids)) == 3
    assert [ID.fullmatch(x).group(1, 2) for x in ids] == [("0", "3"), ("1", "3"), ("2", "3")]  # type: ignore[union-attr]


def test_a_credentials_file_from_before_gets_a_key_once(tmp_path: Path) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text(json.dumps(
        {"passwords": {"bridge": "b" * 32, "webapp": "w" * 32}, "token_secret": "s" * 43}))
    first = bridge_client_id(_settings(tmp_path))
    doc = json.loads((tmp_path / CREDENTIALS_FILE).read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", doc["client_id_key"])
    assert doc["passwords"]["bridge"] == "b" * 32 and doc["token_secret"] == "s" * 43  # the rest is kept
    assert bridge_client_id(_settings(tmp_path)) == first
    assert ensure_credentials(tmp_path).client_id_key == doc["client_id_key"]
