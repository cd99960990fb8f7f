"""Follow one video's comments with the client library (the example of docs/client.md).

    python examples/follow_video.py VIDEO [--broker URL ...] [--http URL] [--idle SECONDS]

Brokers are tried in order, failing over to the next; the defaults follow
LIVECOMMENTS_MQTT_PORT, LIVECOMMENTS_WS_PORT and LIVECOMMENTS_HTTP_PORT. With --idle it
stops once nothing has happened for that long; without, it runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os

from viewer import Event, EventType, LiveClient


def describe(event: Event) -> str | None:
    if event.type == EventType.COMMENT and event.comment is not None:
        c = event.comment
        reply = f" (reply to {c['parent_id']})" if c["parent_id"] else ""
        return f"{event.seq} {event.source}: {c['user']['name']}: {c['text']}{reply}"
    if event.type == EventType.DELETE:
        return f"{event.seq} deleted {event.id}"
    if event.type in (EventType.PIN, EventType.UNPIN):
        return f"{event.seq} {event.type} {event.id or ''}".rstrip()
    if event.type in (EventType.CONNECTED, EventType.DISCONNECTED):
        return f"-- {event.type} {event.data['url']}"
    return None  # state and reaction totals: not shown here


def main() -> int:
    env = os.environ
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--broker", action="append", default=[])
    parser.add_argument("--http", default=f"http://127.0.0.1:{env.get('LIVECOMMENTS_HTTP_PORT', '8000')}")
    parser.add_argument("--idle", type=float, default=None, help="stop after this many quiet seconds")
    args = parser.parse_args()
    brokers = args.broker or [
        f"mqtt://127.0.0.1:{env.get('LIVECOMMENTS_MQTT_PORT', '1883')}",
        f"ws://127.0.0.1:{env.get('LIVECOMMENTS_WS_PORT', '8083')}/mqtt",  # the next one if that is down
    ]
    with LiveClient(args.video, brokers, http=args.http) as client:
        try:
            for event in client.events(timeout=args.idle):
                line = describe(event)
                if line is not None:
                    print(line, flush=True)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
