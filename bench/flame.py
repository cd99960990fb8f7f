"""Where the CPU went, from a py-spy profile: `py-spy record --format raw -o FILE -p PID`, then
`python -m bench.flame FILE [--top N]` prints the functions with the most samples, by their own
time (the frame on top of the stack) and including what they call."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE_NO = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class Profile:
    total: int
    own: Counter[str]
    inclusive: Counter[str]


def frame_name(frame: str) -> str:
    """`func (path/to/module.py:123)` -> `func (path/to/module.py)`: one entry per function."""
    return _LINE_NO.sub(")", frame.strip())


def parse_collapsed(lines: Iterable[str]) -> Profile:
    """py-spy's raw (collapsed stack) format: `frame;frame;...;frame COUNT` per line, outermost first."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        line = line.rstrip("\n")
        if not line or " " not in line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = [frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return Profile(total, own, inclusive)


def shorten(name: str, root: str = "site-packages/") -> str:
    """Drop the long path before the package name."""
    if root in name:
        head, _, tail = name.partition("(")
        return f"{head}({tail.split(root, 1)[-1]}"
    return name


def report(profile: Profile, top: int = 25, only: Sequence[str] = ()) -> str:
    """The `top` functions by own samples and by samples including callees; with `only`, just
    the functions whose name or file contains one of those strings (e.g. the project's own)."""
    if not profile.total:
        return "no samples"

    def keep(name: str) -> bool:
        return not only or any(s in name for s in only)

    def rows(counter: Counter[str]) -> list[str]:
        chosen = [(name, n) for name, n in counter.most_common() if keep(name)][:top]
        return [f"  {100 * n / profile.total:5.1f}%  {shorten(name)}" for name, n in chosen]

    lines = [f"{profile.total} samples", "", "own time (top of stack):", *rows(profile.own)]
    lines += ["", "including callees:", *rows(profile.inclusive)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flame", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="list only functions whose name or file contains TEXT (repeat)")
    args = parser.parse_args(argv)
    with args.file.open() as fh:
        print(report(parse_collapsed(fh), args.top, args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
