"""A display board for one live video, with nothing but an MQTT library (paho-mqtt).

It shows what a microcontroller-class client does (docs/display-boards.md): connect
anonymously, subscribe at QoS 0 to two retained topics, print what arrives, keep the
connection alive, and reconnect with a growing delay when it drops.

    live/videos/{v}/ticker  plain UTF-8 text, at most 160 bytes: "Name: text"
    live/videos/{v}/state   JSON: status, chat, slow_mode_s, pinned, viewers …

Usage:
    python examples/display_board.py VIDEO [--host 127.0.0.1] [--port 1883]

The port defaults to LIVECOMMENTS_MQTT_PORT, else 1883. Stop it with Ctrl-C.
Each ticker line is printed as it is, on a line of its own: `TICKER Name: text`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sys
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="show a video's ticker like a display board would")
    parser.add_argument("video")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LIVECOMMENTS_MQTT_PORT") or 1883))
    parser.add_argument("--prefix", default="live/", help="the topic root (default live/)")
    args = parser.parse_args(argv)

    ticker_topic = f"{args.prefix}videos/{args.video}/ticker"
    state_topic = f"{args.prefix}videos/{args.video}/state"
    ceiling = 1.0  # the longest wait before the next reconnect attempt, in seconds

    def on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Small packets go out at once instead of waiting for Nagle's algorithm.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            print(f"# broker refused us: {reason}", file=sys.stderr, flush=True)
            return
        nonlocal ceiling
        ceiling = 1.0  # connected: the next outage starts with short waits again
        print(f"# connected to {args.host}:{args.port}", file=sys.stderr, flush=True)
        # Subscribing on every connect: a clean session forgets subscriptions. Both topics are
        # retained, so the broker sends their current value right away.
        client.subscribe([(ticker_topic, 0), (state_topic, 0)])

    def on_disconnect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        print(f"# disconnected ({reason}); reconnecting", file=sys.stderr, flush=True)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == ticker_topic:
            # Plain text, already one line and cut to 160 bytes by the bridge. A real board
            # would map it onto its font here (transliterate what the font lacks).
            text = msg.payload.decode("utf-8", errors="replace")
            print(f"TICKER {text}", flush=True)
        elif msg.topic == state_topic:
            try:
                state = json.loads(msg.payload)
            except ValueError:
                return  # never trust a payload
            if isinstance(state, dict):
                chat = "open" if state.get("chat") == "open" else "closed"
                print(f"STATE {state.get('status', '?')}, chat {chat}", flush=True)

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"board-{random.getrandbits(32):08x}",  # a board would use its chip id  # noqa: S311
        protocol=mqtt.MQTTv311,
        clean_session=True,
        reconnect_on_failure=False,  # we reconnect ourselves, with jitter
    )
    client.on_socket_open = on_socket_open
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it like Ctrl-C

    try:
        while True:
            try:
                client.connect(args.host, args.port, keepalive=60)  # pings every 60 s when idle
                client.loop_forever()  # reads and keeps alive; returns when the connection drops
            except OSError as exc:
                print(f"# cannot connect: {exc}", file=sys.stderr, flush=True)
            # Full jitter: a wait drawn from [0, ceiling), the ceiling doubling up to 60 s, so
            # a thousand boards that lost the same broker do not all come back at once.
            time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not cryptography
            ceiling = min(60.0, ceiling * 2)
    except KeyboardInterrupt:
        client.disconnect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
