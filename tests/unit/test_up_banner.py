"""What `livecomments up` says it runs is what it runs."""

from __future__ import annotations

from pathlib import Path

from livecomments.config import Settings
from wiring.up import banner


def test_the_banner_names_the_database_and_redis_the_settings_choose() -> None:
    data = Path("/tmp/x")
    assert "(embedded default: amqtt, SQLite, no Redis)" in banner(Settings(data_dir=data), data)
    chosen = Settings(data_dir=data, database_url="postgresql+psycopg://u@db/live", redis_url="redis://r:6379/0")
    assert "(broker: Mosquitto, PostgreSQL, Redis)" in banner(chosen, data, "mosquitto")


def test_the_banner_shows_the_demo_page_and_a_token_command_for_this_data_dir() -> None:
    data = Path("/tmp/some dir")
    text = banner(Settings(data_dir=data, http_port=8123), data, demo="demo")
    assert "http://127.0.0.1:8123/videos/demo" in text
    assert "token alice --name Alice --data-dir '/tmp/some dir')" in text  # quoted: pastes as it is
    assert "--data-dir" not in banner(Settings(data_dir=data, secret="s" * 40), data)  # a set secret needs none
