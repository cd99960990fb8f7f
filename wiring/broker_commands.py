"""The operators' broker commands: `livecomments mosquitto-config` and `livecomments cluster`.

Argument parsing and printing only; what they do is in `broker.mosquitto` (the files of
one broker) and `broker.cluster` (a core-and-edges topology).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from broker.cluster.generate import generate, load_nodes
from broker.cluster.plan import Knobs, deployment_plan, local_plan
from broker.cluster.runner import Cluster
from broker.cluster.status import format_status, status
from broker.mosquitto.accounts import ACCOUNT_OPERATOR
from broker.mosquitto.data_dir import write_files
from broker.mosquitto.passwd import broker_passwords
from broker.mosquitto.standalone import render_production_example
from broker.mosquitto.supervisor import MosquittoStartError
from livecomments.config import ConfigError, Settings
from wiring.signals import stop_on_signals


def add_broker_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_config_command(sub)
    add_cluster_command(sub)


# --- `livecomments mosquitto-config` ---------------------------------------------------------


def add_config_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mosquitto-config",
        help="write mosquitto.conf, the password file and the ACL file for the data dir's broker",
        description="Writes <out>/mosquitto.conf, mosquitto.passwd (hashed) and mosquitto.acl for a "
        "Mosquitto broker serving the data dir's services; run it with `mosquitto -c <out>/mosquitto.conf`.",
    )
    p.add_argument("--data-dir", type=Path, help="where the generated credentials live (LIVECOMMENTS_DATA_DIR)")
    p.add_argument("--host", help="listen address (LIVECOMMENTS_HOST); the WebSocket listener binds every interface")
    p.add_argument("--mqtt-port", type=int, help="MQTT TCP port (LIVECOMMENTS_MQTT_PORT, default 1883)")
    p.add_argument("--ws-port", type=int, help="MQTT-over-WebSocket port (LIVECOMMENTS_WS_PORT, default 8083)")
    p.add_argument("--out", type=Path, help="directory for the files (default <data dir>/mosquitto)")
    p.add_argument("--example", action="store_true", help="print the production example (the root mosquitto.conf)")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(handler=config_command)


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.example:
        sys.stdout.write(render_production_example())
        return 0
    try:
        files = write_files(settings, args.out)
    except (FileNotFoundError, subprocess.CalledProcessError, ConfigError) as exc:
        print(f"livecomments mosquitto-config: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {files.conf}\n      {files.passwd}\n      {files.acl}")
    print(f"run:  mosquitto -c {files.conf}")
    print(f"services (bridge, web) use the data dir {settings.data_dir.resolve()} for their passwords and "
          f"LIVECOMMENTS_MQTT_URL=mqtt://{settings.host}:{settings.mqtt_port}")
    return 0


# --- `livecomments cluster ...` -------------------------------------------------------------------


def add_cluster_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = sub.add_parser("cluster", help="generate, run and watch a core + edges Mosquitto topology")
    verbs = cluster.add_subparsers(dest="verb", required=True)

    gen = verbs.add_parser("generate", help="write one directory per broker for a deployment on several machines")
    gen.add_argument("--out", type=Path, required=True, help="where to write the directories")
    gen.add_argument("--core", action="append", default=[], metavar="HOST:PORT",
                     help="address the edges dial for the core; repeat for a standby (main first)")
    gen.add_argument("--edge-host", action="append", default=[], metavar="HOST",
                     help="each edge's address, for `cluster status` (default edge-1, edge-2, ...)")
    gen.add_argument("--mqtt-port", type=int, help="every broker's MQTT TCP port (default 1883)")
    gen.add_argument("--ws-port", type=int, help="the edges' WebSocket port (default 8083)")

    run = verbs.add_parser("run", help="run a whole topology on this machine, supervised, until SIGTERM")
    run.add_argument("--host", help="listen address (default 127.0.0.1); WebSocket listeners bind every interface")
    run.add_argument("--base-port", type=int, default=18800,
                     help="cores on BASE (+1), edge i on BASE+100+i (TCP) and BASE+200+i (WebSocket); "
                     "a taken port is swapped for a free one; 0: free ports only")
    run.add_argument("--out", type=Path, help="where the files go (default <data dir>/cluster)")

    for p in (gen, run):
        p.add_argument("--edges", type=int, default=2, help="how many edge brokers (default 2)")
        p.add_argument("--standby", action="store_true", help="an active/standby pair of cores")
        p.add_argument("--data-dir", type=Path, help="where the generated credentials live (LIVECOMMENTS_DATA_DIR)")
        p.add_argument("--bridge-qos", type=int, default=1, choices=(0, 1, 2), help="edge bridges' QoS (default 1)")
        p.add_argument("--bridge-keepalive", type=int, default=30, help="edge bridges' keepalive, s (default 30)")
        p.add_argument("--restart-timeout", default="1,15", metavar="BASE,CAP",
                       help="edge bridges' reconnect delay, jittered from BASE to CAP s (default 1,15)")
        p.add_argument("--persistent-bridge", action="store_true",
                       help="cleansession false: the core queues live/ for a disconnected edge")
        for name, helptext in (
            ("max-queued-messages", "per-client queue, messages (default 4000)"),
            ("max-queued-bytes", "per-client queue, bytes (default 32 MiB)"),
            ("max-keepalive", "longest keepalive MQTT 5 clients may use, s (default 120)"),
            ("tcp-max-connections", "per broker, TCP listener (default 2048)"),
            ("ws-max-connections", "per edge, WebSocket listener (default 16384)"),
            ("sys-interval", "seconds between $SYS updates (default 10)"),
        ):
            p.add_argument(f"--{name}", type=int, help=helptext)
        p.add_argument("--log-level", default="INFO")
        p.set_defaults(handler=cluster_command)

    st = verbs.add_parser("status", help="connections, message rates and bridge state of every broker, from $SYS")
    st.add_argument("--dir", type=Path, help="the generated directory with cluster.json (default <data dir>/cluster)")
    st.add_argument("--data-dir", type=Path, help="where the operator password lives (LIVECOMMENTS_DATA_DIR)")
    st.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each broker")
    st.add_argument("--log-level", default="WARNING")
    st.set_defaults(handler=cluster_command)


def _knobs(args: argparse.Namespace) -> Knobs:
    try:
        base, cap = (int(x) for x in str(args.restart_timeout).split(","))
    except ValueError as exc:
        raise ConfigError("--restart-timeout is BASE,CAP in seconds, e.g. 1,15") from exc
    return Knobs(
        bridge_qos=args.bridge_qos, cleansession=not args.persistent_bridge, bridge_keepalive=args.bridge_keepalive,
        restart_timeout=(base, cap), max_queued_messages=args.max_queued_messages,
        max_queued_bytes=args.max_queued_bytes, max_keepalive=args.max_keepalive,
        tcp_max_connections=args.tcp_max_connections, ws_max_connections=args.ws_max_connections,
        sys_interval=args.sys_interval,
    )


def cluster_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.verb == "status":
            return _status_command(args, settings)
        knobs = _knobs(args)
        if args.verb == "generate":
            plan = deployment_plan(settings, args.out, args.edges, standby=args.standby,
                                   core_addresses=args.core, edge_hosts=args.edge_host, knobs=knobs)
            generate(plan, settings)
            print(f"wrote {len(plan.nodes)} brokers under {plan.out}: "
                  + ", ".join(n.name for n in plan.nodes))
            print("copy each directory's files to /etc/livecomments/ on its machine and run "
                  "`mosquitto -c /etc/livecomments/mosquitto.conf`;")
            print(f"services get LIVECOMMENTS_MQTT_URL from {plan.out}/bridge.env and webapp.env (secret)")
            return 0
        return _run_command(args, settings, knobs)
    except (ConfigError, MosquittoStartError, FileNotFoundError) as exc:
        print(f"livecomments cluster {args.verb}: {exc}", file=sys.stderr, flush=True)
        return 1


def _run_command(args: argparse.Namespace, settings: Settings, knobs: Knobs) -> int:
    stop = stop_on_signals()
    out = args.out or settings.data_dir / "cluster"
    plan = local_plan(settings, out, args.edges, standby=args.standby, base_port=args.base_port, knobs=knobs)
    cluster = Cluster(plan, settings)
    cluster.start()
    try:
        print(f"livecomments cluster is up: {len(plan.cores)} core(s), {len(plan.edges)} edge(s), files in {out}")
        for line in cluster.lines():
            print("  " + line)
        print(f"  status: livecomments cluster status --data-dir {settings.data_dir}", flush=True)
        while not stop.wait(1.0):
            if not cluster.is_alive():
                print(f"livecomments cluster run: gave up on {', '.join(cluster.failed()) or 'a broker'}",
                      file=sys.stderr, flush=True)
                return 1
    finally:
        cluster.stop()
    return 0


def _status_command(args: argparse.Namespace, settings: Settings) -> int:
    directory = args.dir or settings.data_dir / "cluster"
    try:
        nodes = load_nodes(directory)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"livecomments cluster status: no topology in {directory}: {exc}", file=sys.stderr)
        return 1
    password = os.environ.get("LIVECOMMENTS_OPERATOR_PASSWORD") or broker_passwords(settings.data_dir)[
        ACCOUNT_OPERATOR]
    rows = status(nodes, password, args.timeout)
    print(format_status(rows), flush=True)
    return 0 if all(r.reachable for r in rows) else 1


