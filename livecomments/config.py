"""Typed configuration: defaults, then LIVECOMMENTS_* environment variables, then flags."""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from livecomments.topics import Topics

ENV_PREFIX = "LIVECOMMENTS_"


class ConfigError(ValueError):
    pass


MAX_PARTITIONS = 1024  # bridge_partitions at most
BRIDGE_BATCH_MAX = 1000  # the default: submissions the bridge decides in one transaction at most
BRIDGE_VIDEOS_HELD = 10_000  # the default: videos each of the bridge's per-video tables holds at most
BRIDGE_WINDOW_COMMENTS_HELD = 50_000  # the default: comments the bridge's recent windows hold in all


@dataclass(frozen=True)
class Partition:
    """Which share of the videos one bridge instance handles."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError("need 0 <= index < count")

    def owns(self, video_id: str) -> bool:
        return self.count == 1 or zlib.crc32(video_id.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Settings:
    """Everything a livecomments process can be told. Validates itself."""

    data_dir: Path = Path("./data")
    secret: str | None = None  # HS256 secret for tokens
    jwt_public_key: str | None = None  # PEM; enables RS256
    database_url: str | None = None  # default: SQLite in data_dir
    redis_url: str | None = None
    mqtt_url: str | None = None  # services' broker, e.g. mqtt://bridge:pw@127.0.0.1:1883
    host: str = "127.0.0.1"
    http_port: int = 8000
    mqtt_port: int = 1883
    ws_port: int = 8083
    live_prefix: str = "live/"
    ingest_prefix: str = "ingest/"
    recent_size: int = 50
    sample_per_s: int = 5  # comments a second at most on each video's sampled feed (live/videos/{v}/sample)
    sweep_after_s: float = 2.0  # a pending comment older than this is re-driven by the bridge
    dev: bool = False  # development conveniences (e.g. the page's dev sign-in)
    # Broker WebSocket URLs handed to browsers, comma-separated, tried in order with failover;
    # default: ws://<the host the page was requested from>:<ws_port>/mqtt
    public_ws_urls: str | None = None
    rate_limit_count: int = 20
    rate_limit_window_s: int = 30
    web_threads: int = 16  # threads per web process (requests mostly wait on the database)
    web_workers: int = 0  # `livecomments web` worker processes; 0: one per core
    bridge_metrics_port: int = 0  # 0: the bridge serves no /metrics of its own
    bridge_batch_max: int = BRIDGE_BATCH_MAX  # submissions decided in one transaction at most
    # The bridge's per-video tables (last seq, pacing) hold at most this many videos, and its recent
    # windows this many comments: past it the least recent go, read again from the database when needed.
    bridge_videos_held: int = BRIDGE_VIDEOS_HELD
    bridge_window_comments_held: int = BRIDGE_WINDOW_COMMENTS_HELD
    # The videos are split into this many partitions (crc32 of the id, mod N); every bridge of a
    # deployment must agree. The bridges running share them through leases in the database
    # (bridge.partitions): each partition has one holder at a time, one writer of its videos' seq.
    bridge_partitions: int = 1
    # A fixed partition "i/N" instead (compatibility): this bridge takes that partition's lease
    # only, and never another; unset, it takes its fair share of the bridge_partitions.
    bridge_partition: str | None = None
    # A lease not renewed for this long is free: another bridge takes the partition (failover).
    bridge_lease_ttl_s: float = 2.5
    bridge_lease_renew_s: float = 0.5  # how often a bridge renews its leases and looks for free ones
    # Who is watching: a viewer counts while its last announcement is at most this old (s); the
    # contract's 75 s (livecomments.presence), shorter in tests.
    presence_window_s: float = 75.0
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("http_port", "mqtt_port", "ws_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} must be a port number, got {port}")
        if self.web_workers < 0:
            raise ConfigError(f"web_workers must be 0 (one per core) or more, got {self.web_workers}")
        if not 1 <= self.recent_size <= 1000:
            raise ConfigError("recent_size must be between 1 and 1000")
        if not 1 <= self.sample_per_s <= 1000:
            raise ConfigError(f"sample_per_s must be between 1 and 1000, got {self.sample_per_s}")
        if self.bridge_videos_held < 1 or self.bridge_window_comments_held < 1:
            raise ConfigError("bridge_videos_held and bridge_window_comments_held must be at least 1")
        if self.mqtt_url is not None and urlsplit(self.mqtt_url).scheme not in ("mqtt", "tcp"):
            raise ConfigError("mqtt_url must look like mqtt://[user:password@]host:port")
        Topics(self.live_prefix, self.ingest_prefix)  # validates the prefixes
        if not 1 <= self.presence_window_s <= 3600:
            raise ConfigError(f"presence_window_s must be between 1 and 3600, got {self.presence_window_s:g}")
        _ = self.partition  # validates bridge_partition
        if not 1 <= self.bridge_partitions <= MAX_PARTITIONS:
            raise ConfigError(f"bridge_partitions must be between 1 and {MAX_PARTITIONS}, got {self.bridge_partitions}")
        if not 0.05 <= self.bridge_lease_renew_s <= self.bridge_lease_ttl_s / 3:
            raise ConfigError("bridge_lease_renew_s must be at least 0.05 and at most a third of bridge_lease_ttl_s "
                              f"(got {self.bridge_lease_renew_s:g} and {self.bridge_lease_ttl_s:g})")

    @property
    def partition(self) -> Partition:
        """The partition one Bridge handles: the fixed one, else all the videos (0/1)."""
        return self.fixed_partition or Partition()

    @property
    def fixed_partition(self) -> Partition | None:
        """LIVECOMMENTS_BRIDGE_PARTITION=i/N, if set."""
        if self.bridge_partition is None:
            return None
        try:
            index, count = (int(x) for x in self.bridge_partition.split("/"))
            return Partition(index, count)
        except ValueError as exc:
            raise ConfigError(
                f"bridge_partition must look like i/N with 0 <= i < N, got {self.bridge_partition!r}"
            ) from exc

    @property
    def topics(self) -> Topics:
        return Topics(self.live_prefix, self.ingest_prefix)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'livecomments.sqlite3').resolve()}"

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        try:
            return cls(**values).with_overrides(**overrides)
        except TypeError as exc:  # pragma: no cover - programming error in a caller
            raise ConfigError(str(exc)) from exc


def _parse(name: str, type_name: str, raw: str) -> Any:
    try:
        if "bool" in type_name:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if "Path" in type_name:
            return Path(raw)
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}") from exc
    return raw


def settings_environ(settings: Settings) -> dict[str, str | None]:
    """LIVECOMMENTS_* variables from which `Settings.from_env()` rebuilds `settings` (None: unset),
    so that every worker process has the flags the parent was given."""
    out: dict[str, str | None] = {}
    for f in dataclasses.fields(settings):
        if f.name == "extra":
            continue
        value = getattr(settings, f.name)
        name = ENV_PREFIX + f.name.upper()
        if value is None:
            out[name] = None
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, Path):
            out[name] = str(value.resolve())
        else:
            out[name] = str(value)
    return out


def put_settings(settings: Settings, env: MutableMapping[str, str]) -> None:
    """Write `settings_environ(settings)` into `env` (a child's environment, or this process's)."""
    for name, value in settings_environ(settings).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
