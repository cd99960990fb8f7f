"""`livecomments watch VIDEO`: a video's live comments in the terminal.

Comments print as they come, oldest first: `#seq  time  Name: text`. Replies are
indented under a `↳ #parent` marker naming the top-level comment they answer. Deletes,
pins and chat state changes get a line of their own in brackets; connection changes and the
viewer count (`· 12 watching (peak 30)`, when it changes) go to stderr; the client announces
itself, so `watch` counts as a viewer. Colour (ANSI) only when stdout is a terminal and NO_COLOR is not set.

`--sample` follows the sampled feed instead of every comment (viewer.sampled): the comments the
bridge left out are a line of their own, `[… n comments not shown]`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from infra.ports import reachable_host
from infra.runtime_file import read_runtime
from viewer.client import LiveClient
from viewer.sampled import SKIPPED
from viewer.sequencer import Event, EventType

MARKER_WIDTH = 6  # "#12345" and a space
NAME_COLOURS = ("31", "32", "33", "34", "35", "36")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def use_colour(stream: TextIO, env: Mapping[str, str]) -> bool:
    """ANSI colour for a terminal, unless NO_COLOR is set to anything (https://no-color.org)."""
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def safe(text: object) -> str:
    """What may reach a terminal: no escape sequences or other control characters (newlines stay)."""
    out = []
    for ch in str(text):
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Shown:
    seq: int | None
    name: str
    text: str


class Renderer:
    """Turns events into lines of text. Pure apart from remembering what it has shown."""

    def __init__(self, colour: bool = False, *, memory: int = 5_000) -> None:
        self.colour = colour
        self._memory = memory
        self._shown: OrderedDict[str, Shown] = OrderedDict()
        self._state: tuple[Any, ...] | None = None
        self._pinned: str | None = None
        self._audience: tuple[int, int] | None = None  # (viewers, peak_viewers) last shown

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def render(self, event: Event) -> list[str]:
        """Lines for stdout (an empty list for events not shown there)."""
        if event.type == EventType.COMMENT and event.comment is not None:
            return self._comment(event.seq, event.comment)
        if event.type == EventType.DELETE:
            return [self._paint("31", "[deleted] ") + self._about(event.id)]
        if event.type == EventType.PIN and event.comment is not None:
            if event.id == self._pinned:
                return []  # the state said so already
            self._pinned = event.id
            return [self._paint("33;1", "[pinned] ") + self._about(self._pinned, event.comment)]
        if event.type == EventType.UNPIN:
            if self._pinned is None:
                return []
            self._pinned = None
            return [self._paint("33", "[unpinned]")]
        if event.type == EventType.STATE:
            return self._state_lines(event.data)
        if event.type == SKIPPED:
            n = event.data.get("skipped")
            return [self._paint("2", f"[… {n} comment{'' if n == 1 else 's'} not shown]")] if isinstance(n, int) else []
        return []

    def status(self, event: Event) -> str | None:
        """A line for stderr about the connection, if the event is about it."""
        if event.type == EventType.CONNECTED:
            return self._paint("2", f"· connected to {safe(event.data.get('url'))}")
        if event.type == EventType.DISCONNECTED:
            reason = safe(event.data.get("reason"))
            return self._paint("2", f"· disconnected from {safe(event.data.get('url'))} ({reason}); reconnecting")
        if event.type == EventType.STATE:
            return self._watching(event.data)
        return None

    def _watching(self, state: Mapping[str, Any]) -> str | None:
        """`· 12 watching (peak 30)` when the video's count changed (`state` carries it, at most every 5 s)."""
        viewers, peak = state.get("viewers"), state.get("peak_viewers", 0)
        if not isinstance(viewers, int) or isinstance(viewers, bool) or not isinstance(peak, int):
            return None
        if (viewers, peak) == self._audience:
            return None
        self._audience = (viewers, peak)
        return self._paint("2", f"· {viewers:,} watching (peak {max(peak, viewers):,})")

    # -- pieces ---------------------------------------------------------------------

    def _comment(self, seq: int | None, comment: Mapping[str, Any]) -> list[str]:
        user = comment.get("user") if isinstance(comment.get("user"), dict) else {}
        assert isinstance(user, dict)
        name = safe(user.get("name") or user.get("id") or "?")
        text = safe(comment.get("text", ""))
        self._remember(comment.get("id"), Shown(seq, name, text))
        clock = self._paint("2", _clock(comment.get("ts")))
        who = self._paint(f"1;{_colour_of(str(user.get('id', name)))}", name)
        parent = comment.get("parent_id")
        if parent is None:
            marker = f"#{seq}".ljust(MARKER_WIDTH - 1) if seq is not None else "".ljust(MARKER_WIDTH - 1)
            head = f"{self._paint('36', marker)} {clock}  {who}: "
        else:
            parent_seq = self._shown[parent].seq if parent in self._shown else None
            ref = f"#{parent_seq}" if parent_seq is not None else f"…{str(parent)[-6:]}"
            head = f"{' ' * MARKER_WIDTH}{self._paint('36', '↳ ' + ref)}  {clock}  {who}: "
        indent = " " * len(_ANSI.sub("", head))  # continuation lines line up under the text
        lines = text.split("\n")
        return [head + lines[0], *(indent + line for line in lines[1:])]

    def _about(self, comment_id: str | None, comment: Mapping[str, Any] | None = None) -> str:
        shown = self._shown.get(comment_id) if comment_id is not None else None
        if shown is None and comment is not None:
            user = comment.get("user") if isinstance(comment.get("user"), dict) else {}
            assert isinstance(user, dict)
            seq = comment.get("seq")
            shown = Shown(seq if isinstance(seq, int) else None, safe(user.get("name", "?")), safe(comment.get("text")))
        if shown is None:
            return f"comment {safe(comment_id)}"
        first = shown.text.split("\n")[0]
        snippet = first if len(first) <= 60 else first[:59] + "…"
        marker = f"#{shown.seq} " if shown.seq is not None else ""
        return f"{marker}{shown.name}: {snippet}"

    def _state_lines(self, state: Mapping[str, Any]) -> list[str]:
        key = (state.get("status"), state.get("chat"), state.get("slow_mode_s"))
        lines = []
        if key != self._state:
            self._state = key
            parts = [safe(state.get("status", "?")), f"chat {safe(state.get('chat', '?'))}"]
            slow = state.get("slow_mode_s")
            if isinstance(slow, int) and slow > 0:
                parts.append(f"slow mode {slow}s")
            lines.append(self._paint("2", "[" + " · ".join(parts) + "]"))
        pinned = state.get("pinned")
        pinned_id = pinned.get("id") if isinstance(pinned, dict) else None
        if pinned_id != self._pinned:
            self._pinned = pinned_id
            if isinstance(pinned, dict):
                lines.append(self._paint("33;1", "[pinned] ") + self._about(pinned_id, pinned))
            else:
                lines.append(self._paint("33", "[unpinned]"))
        return lines

    def _remember(self, comment_id: object, shown: Shown) -> None:
        if not isinstance(comment_id, str):
            return
        self._shown[comment_id] = shown
        self._shown.move_to_end(comment_id)
        if len(self._shown) > self._memory:
            self._shown.popitem(last=False)


def _clock(ts: object) -> str:
    if not isinstance(ts, int) or isinstance(ts, bool):
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(ts / 1000))


def _colour_of(user_id: str) -> str:
    return NAME_COLOURS[zlib.crc32(user_id.encode()) % len(NAME_COLOURS)]


def _port(name: str, env: Mapping[str, str], runtime: Mapping[str, Any] | None, default: int) -> object:
    """LIVECOMMENTS_<NAME>_PORT if set, else what a running `livecomments up` wrote, else the default."""
    return env.get(f"LIVECOMMENTS_{name.upper()}_PORT") or (runtime or {}).get(f"{name}_port") or default


def _host(runtime: Mapping[str, Any] | None) -> str:
    return reachable_host(str((runtime or {}).get("host") or ""))


def default_broker(env: Mapping[str, str], runtime: Mapping[str, Any] | None = None) -> str:
    return f"mqtt://{_host(runtime)}:{_port('mqtt', env, runtime, 1883)}"


def default_http(env: Mapping[str, str], runtime: Mapping[str, Any] | None = None) -> str:
    return f"http://{_host(runtime)}:{_port('http', env, runtime, 8000)}"


def main(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM. `args`: video, broker (list of URLs), http, data_dir."""
    env = os.environ
    runtime = read_runtime(Path(args.data_dir or env.get("LIVECOMMENTS_DATA_DIR") or "./data"))
    brokers = list(args.broker or []) or [default_broker(env, runtime)]
    http = args.http or default_http(env, runtime)
    renderer = Renderer(use_colour(sys.stdout, env))
    try:
        client = LiveClient(args.video, brokers, http, sample=bool(getattr(args, "sample", False)))
    except ValueError as exc:
        print(f"livecomments watch: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda _s, _f: stop.set())
    with client:
        try:
            while not stop.is_set():
                for event in client.events(timeout=0.25):
                    _show(renderer, event)
                    if stop.is_set():
                        break
        except BrokenPipeError:  # piped into `head` and the like: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return 0


def _show(renderer: Renderer, event: Event) -> None:
    status = renderer.status(event)
    if status is not None:
        print(status, file=sys.stderr, flush=True)
    lines = renderer.render(event)
    if lines:
        print("\n".join(lines), flush=True)
