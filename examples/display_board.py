"""A display board for one live video, with nothing but an MQTT library (paho-mqtt).

It shows what a microcontroller-class client does (docs/display-boards.md): connect
anonymously, subscribe at QoS 0, print what arrives, keep the connection alive, and
reconnect with a growing delay when it drops.

    live/videos/{v}/ticker  retained, plain UTF-8 text, at most 160 bytes: "Name: text"
                            (the line to show at once; left once it came, or once the sample speaks)
    live/videos/{v}/sample  the sampled feed: at most a few comments a second (the deployment's
                            sample_per_s, default 5) whatever the video's rate, every delete,
                            and how many comments were left out ("skipped")
    live/videos/{v}/state   retained JSON: status, chat, slow_mode_s, pinned, viewers …

Usage:
    python examples/display_board.py VIDEO [--host 127.0.0.1] [--port 1883]

The port defaults to LIVECOMMENTS_MQTT_PORT, else 1883. Stop it with Ctrl-C.
Printed lines: `TICKER Name: text` (the retained line), `COMMENT Name: text` (each comment of the
sample, cut to 160 bytes like the ticker), `CLEAR` (the comment shown was deleted), `SKIPPED n`
(comments left out), `STATE status, chat open|closed`.
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
    parser = argparse.ArgumentParser(description="show a video's comments like a display board would")
    parser.add_argument("video")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LIVECOMMENTS_MQTT_PORT") or 1883))
    parser.add_argument("--prefix", default="live/", help="the topic root (default live/)")
    args = parser.parse_args(argv)

    ticker_topic = f"{args.prefix}videos/{args.video}/ticker"
    sample_topic = f"{args.prefix}videos/{args.video}/sample"
    state_topic = f"{args.prefix}videos/{args.video}/state"
    ceiling = 1.0  # the longest wait before the next reconnect attempt, in seconds
    on_ticker = False  # still subscribed to the ticker on this connection
    shown: str | None = None  # the id of the comment on the board, if it came from the sample

    def on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Small packets go out at once instead of waiting for Nagle's algorithm.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            print(f"# broker refused us: {reason}", file=sys.stderr, flush=True)
            return
        nonlocal ceiling, on_ticker
        ceiling = 1.0  # connected: the next outage starts with short waits again
        print(f"# connected to {args.host}:{args.port}", file=sys.stderr, flush=True)
        # Subscribing on every connect: a clean session forgets subscriptions. The ticker and the
        # state are retained, so the broker sends their current value right away; the sample is
        # not: it carries what comes from now on.
        client.subscribe([(ticker_topic, 0), (sample_topic, 0), (state_topic, 0)])
        on_ticker = True

    def leave_ticker(client: mqtt.Client) -> None:
        # The ticker gave the line to show at once; from now on the sample says what comes (the
        # ticker changes with every comment, and would repeat the sample's).
        nonlocal on_ticker
        if on_ticker:
            on_ticker = False
            client.unsubscribe(ticker_topic)

    def on_sample(client: mqtt.Client, payload: bytes) -> None:
        nonlocal shown
        leave_ticker(client)
        try:
            batch = json.loads(payload)
        except ValueError:
            return  # never trust a payload
        if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
            return
        skipped = batch.get("skipped")
        if isinstance(skipped, int) and skipped > 0:
            print(f"SKIPPED {skipped}", flush=True)  # a board might show "+n" in a corner
        for event in batch["events"]:  # in seq order; seq jumps are the comments left out
            if not isinstance(event, dict):
                continue
            comment = event.get("comment")
            if event.get("type") == "comment" and isinstance(comment, dict):
                user = comment.get("user")
                name = user.get("name", "?") if isinstance(user, dict) else "?"
                print("COMMENT " + board_line(str(name), str(comment.get("text", ""))), flush=True)
                shown = comment.get("id")
            elif event.get("type") == "delete" and event.get("id") == shown and shown is not None:
                print("CLEAR", flush=True)  # the comment on the board was deleted: take it down
                shown = None

    def on_disconnect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        print(f"# disconnected ({reason}); reconnecting", file=sys.stderr, flush=True)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == sample_topic:
            on_sample(client, bytes(msg.payload))
        elif msg.topic == ticker_topic and on_ticker:  # (one already in flight when we left it is dropped)
            # Plain text, already one line and cut to 160 bytes by the bridge. A real board
            # would map it onto its font here (transliterate what the font lacks).
            text = msg.payload.decode("utf-8", errors="replace")
            leave_ticker(client)
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


def board_line(name: str, text: str, max_bytes: int = 160) -> str:
    """`Name: text` on one line, at most max_bytes of UTF-8, cut on a character boundary with `…`
    (the ticker's rule: a fixed 161-byte buffer is enough for either)."""
    line = " ".join(f"{name}: {text}".split())
    if len(line.encode()) <= max_bytes:
        return line
    cut = line.encode()[: max_bytes - len("…".encode())].decode("utf-8", errors="ignore").rstrip()
    return cut + "…"


if __name__ == "__main__":
    raise SystemExit(main())
