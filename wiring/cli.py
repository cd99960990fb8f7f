"""`livecomments`: the one wiring point. Each command builds its parts from Settings,
logs what it chose, runs until SIGTERM/SIGINT, and stops every part cleanly."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from infra import credentials, ports
from infra.runtime_file import read_runtime
from livecomments import tokens
from livecomments.config import ConfigError, Settings
from livecomments.service import Service
from wiring.signals import stop_on_signals
from wiring.supervise import supervise

log = logging.getLogger("livecomments")


def _run_service(service: Service, stop: threading.Event, *, started: bool = False) -> int:
    """Start one service, run until SIGTERM/SIGINT or until it stops on its own (exit 1)."""
    if not started:
        service.start()
    try:
        return supervise([service], stop, who="livecomments")
    finally:
        service.stop()


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="where SQLite and generated secrets live (LIVECOMMENTS_DATA_DIR)")
    p.add_argument("--host", help="address to listen on (LIVECOMMENTS_HOST, default 127.0.0.1)")
    p.add_argument("--log-level", default="INFO")


def _add_ports(p: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "http": "HTTP port (LIVECOMMENTS_HTTP_PORT, default 8000)",
        "mqtt": "MQTT TCP port (LIVECOMMENTS_MQTT_PORT, default 1883)",
        "ws": "MQTT-over-WebSocket port, path /mqtt (LIVECOMMENTS_WS_PORT, default 8083)",
    }
    for name in names:
        p.add_argument(f"--{name}-port", type=int, help=helps[name])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livecomments", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run broker + bridge + web app on the embedded default")
    _add_common(up)
    _add_ports(up, "http", "mqtt", "ws")
    up.add_argument("--broker", choices=("amqtt", "mosquitto"), default="amqtt",
                    help="the embedded amqtt broker (default) or a supervised Mosquitto child process")
    up.add_argument("--dev", action="store_true",
                    help="development sign-in (POST /api/dev/token) even on a non-loopback --host (logs a warning); "
                         "by default it is on only on loopback")

    for name, helptext, port_names in (
        ("web", "run the web app", ("http",)),
        ("bridge", "run the bridge service", ()),
        ("broker", "run the embedded (amqtt) broker", ("mqtt", "ws")),
    ):
        p = sub.add_parser(name, help=helptext)
        _add_common(p)
        _add_ports(p, *port_names)
        if name in ("web", "bridge"):
            p.add_argument("--mqtt-url", help="broker for services (LIVECOMMENTS_MQTT_URL)")
            p.add_argument("--database-url", help="LIVECOMMENTS_DATABASE_URL (default SQLite in the data dir)")
        if name == "web":
            p.add_argument("--workers", type=int, metavar="N",
                           help="worker processes (LIVECOMMENTS_WEB_WORKERS; default: one per core with Redis, else 1)")

    dbp = sub.add_parser("db", help="database schema: migrations with Alembic")
    dbp.add_argument("action", choices=["upgrade", "current"], help="upgrade to the current schema, or show it")
    dbp.add_argument("--data-dir", type=Path)
    dbp.add_argument("--database-url", help="LIVECOMMENTS_DATABASE_URL (default SQLite in the data dir)")

    tok = sub.add_parser("token", help="print a signed token for the configured secret")
    tok.add_argument("user")
    tok.add_argument("--name")
    tok.add_argument("--role", action="append", default=[], choices=tokens.ROLES)
    tok.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    tok.add_argument("--data-dir", type=Path)

    where = sub.add_parser("where", help="print where a running `livecomments up` listens (its runtime.json)")
    where.add_argument("part", choices=("http", "mqtt", "ws"), help="the web app, MQTT over TCP, or over WebSocket")
    where.add_argument("--data-dir", type=Path, help="the data dir `up` runs on (default ./data)")

    watch = sub.add_parser("watch", help="print a video's live comments in the terminal")
    watch.add_argument("video")
    watch.add_argument("--broker", action="append", default=[], metavar="URL",
                       help="mqtt://host:port or ws://host:port/mqtt, repeat for failover (default: "
                       "LIVECOMMENTS_MQTT_PORT, else the port a running `livecomments up` uses, else 1883)")
    watch.add_argument("--http", metavar="URL",
                       help="web app for history (default: LIVECOMMENTS_HTTP_PORT, else the running "
                       "`livecomments up`'s port, else 8000)")
    watch.add_argument("--data-dir", type=Path,
                       help="where a running `livecomments up` wrote its ports (runtime.json; default ./data)")
    watch.add_argument("--sample", action="store_true",
                       help="follow the sampled feed (at most the deployment's sample_per_s comments a second, "
                       "every delete and pin, a count of the comments left out) instead of every comment")
    watch.add_argument("--log-level", default="WARNING")

    from wiring.broker_commands import add_broker_commands

    add_broker_commands(sub)
    try:  # bench/ lives in the repository; its command runs from a checkout
        from bench.cli import add_bench_command
    except ModuleNotFoundError as exc:
        if exc.name != "bench":
            raise
    else:
        add_bench_command(sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        key: getattr(args, key, None)
        for key in ("data_dir", "host", "http_port", "mqtt_port", "ws_port", "mqtt_url", "database_url")
    }
    return Settings.from_env(**overrides)


def _db(settings: Settings, action: str) -> int:
    from alembic import command

    from infra.db import alembic_config, create_schema, make_engine

    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        if action == "upgrade":
            create_schema(engine)
        with engine.connect() as connection:
            command.current(alembic_config(connection))
    finally:
        engine.dispose()
    return 0


def _where(settings: Settings, part: str) -> int:
    info = read_runtime(settings.data_dir)
    if info is None:
        print(f"livecomments where: nothing runs on {settings.data_dir} (no live runtime.json); "
              "start it with `livecomments up`", file=sys.stderr)
        return 1
    host = ports.reachable_host(str(info.get("host") or ""))
    scheme, suffix = {"http": ("http", ""), "mqtt": ("mqtt", ""), "ws": ("ws", "/mqtt")}[part]
    print(f"{scheme}://{host}:{info[f'{part}_port']}{suffix}")
    return 0


# Libraries that log their set-up at INFO: one line per plugin, per migration step.
_CHATTY = ("alembic", "amqtt", "transitions", "granian")


def _quiet_libraries(level: str) -> None:
    if level.upper() != "DEBUG":
        for name in _CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _quiet_libraries(getattr(args, "log_level", "INFO"))
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"livecomments: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "handler", None) is not None:  # mosquitto-config, cluster, bench
        return int(args.handler(args, settings))
    if args.command == "token":
        print(tokens.issue(credentials.hs256_secret(settings), args.user, args.name, args.role, args.ttl))
        return 0
    if args.command == "where":
        return _where(settings, args.part)
    if args.command == "watch":
        from viewer.watch import main as watch

        return watch(args)
    if args.command == "db":
        return _db(settings, args.action)
    if args.command == "up":
        from wiring.up import run_up

        explicit = {name: getattr(args, f"{name}_port") is not None for name in ("http", "mqtt", "ws")}
        return int(run_up(settings, explicit, stop_on_signals(), broker=args.broker, force_dev=args.dev))
    if args.command == "broker":
        from broker.embedded import BrokerStartError, BrokerThread

        broker = BrokerThread(settings)
        try:
            credentials.ensure_credentials(settings.data_dir)
            broker.start()
        except BrokerStartError as exc:
            print(f"livecomments broker: {exc}", file=sys.stderr, flush=True)
            return 1
        for line in broker.listening_lines():
            print(line, flush=True)
        return _run_service(broker, stop_on_signals(), started=True)
    if args.command == "bridge":
        from wiring.bridge_process import build_bridge_process
        from wiring.web import prepare_data

        prepare_data(settings)
        return _run_service(build_bridge_process(settings), stop_on_signals())
    if args.command == "web":
        from wiring.web import serve_workers

        if args.workers is not None and args.workers < 1:
            print("livecomments web: --workers must be 1 or more", file=sys.stderr)
            return 2
        return serve_workers(settings, args.workers)  # granian handles SIGTERM/SIGINT (stop) and SIGHUP
    raise AssertionError(args.command)  # argparse rejects unknown commands


__all__ = ["main", "ports"]
