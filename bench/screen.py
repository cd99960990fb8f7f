"""Micro-benchmark of `moderation.screen.screen_text`: µs per call, by kind of comment.

Run: ``.venv/bin/python -m bench.screen`` (``--calls N`` per kind, ``--repeat R`` best of R).
Each kind is a few thousand distinct comments, so no per-text cache can help; the
library matcher and the video's matcher are built before timing.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from moderation.library import library_matcher
from moderation.screen import matcher_for, screen_text

VIDEO_TERMS = ("zorblax", "red herring", "quux")
_PHRASES = (
    "what a great stream, loving it!",
    "cost probe comment number {n}",
    "lol that was so funny 😂😂",
    "Can you play the next song please? 🙏",
    "gg wp, see you all tomorrow",
    "first time here, greetings from Berlin!",
    "is this live or a replay? #{n}",
    "I can't believe he missed that shot",
    "hello everyone 👋 how's it going",
    "that guitar solo at {n}:30 was insane",
)
_DISGUISES: tuple[Callable[[str], str], ...] = (
    lambda w: " ".join(w),
    lambda w: w.translate(str.maketrans("aeiost", "@3!05+")),
    lambda w: "".join(c * 3 for c in w),
    lambda w: w.translate(str.maketrans("aceopxy", "асеорху")),
    lambda w: "\u200b".join(w),
    lambda w: "".join(chr(ord(c) - 0x61 + 0xFF41) if "a" <= c <= "z" else c for c in w),
    lambda w: w.upper() + "s",
)


def ordinary(count: int) -> list[str]:
    """Everyday chat: short sentences, a number in some, an emoji in a few."""
    return [_PHRASES[n % len(_PHRASES)].format(n=n) + ("" if n < len(_PHRASES) else f" {n}") for n in range(count)]


def adversarial(count: int, seed: int = 7) -> list[str]:
    """Library terms (and the video's) in disguise, inside ordinary sentences."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    terms = list(library_matcher().terms) + list(VIDEO_TERMS)
    out: list[str] = []
    for n in range(count):
        term = rng.choice(terms)
        disguised = rng.choice(_DISGUISES)(term)
        out.append(f"{_PHRASES[n % len(_PHRASES)].format(n=n)} {disguised} {n}")
    return out


def spaced(count: int) -> list[str]:
    """Long runs of spaced-out letters, the costliest shape for the matcher."""
    rng = random.Random(11)  # noqa: S311 - reproducible test data, not secrets
    letters = "abcdefghijklmnoprstuvwy"
    return [" ".join(rng.choice(letters) for _ in range(60)) for _ in range(count)]


def per_call_us(texts: Sequence[str], repeat: int) -> float:
    """Best of `repeat` runs over `texts`, in µs per screen_text call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            screen_text(text, VIDEO_TERMS)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="distinct comments per kind")
    parser.add_argument("--repeat", type=int, default=5, help="runs per kind; the best is shown")
    args = parser.parse_args(argv)
    library_matcher()
    matcher_for(VIDEO_TERMS)
    kinds = {
        "ordinary": ordinary(args.calls),
        "adversarial": adversarial(args.calls),
        "spaced-out (60 letters)": spaced(max(args.calls // 10, 1)),
    }
    for name, texts in kinds.items():
        screen_text(texts[0], VIDEO_TERMS)
        print(f"{name:<24} {per_call_us(texts, args.repeat):9.1f} µs per call ({len(texts)} comments)")


if __name__ == "__main__":
    main()
