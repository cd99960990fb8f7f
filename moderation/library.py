"""The maintained profanity list: glin-profanity's English dictionary, used as data.

Only the word list is taken; matching is ours (moderation.terms), the same as for the
moderators' own terms. The list is read once from the installed package (static data
shipped with it, like a module) and kept; nothing else is read, nothing is written.
See moderation/README.md for why this list and what we leave out.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from moderation.normalize import skeleton
from moderation.terms import TermMatcher

SOURCE_PACKAGE = "glin_profanity.data"
SOURCE_FILE = "dictionaries/english.json"
MIN_LETTERS = 3  # shorter entries ("bs", "mf", "xx") are ordinary abbreviations far more often than not

# Entries of the library list that we do not reject outright in a live chat: everyday
# words, clinical, anatomical and legal terms, mild exclamations and chat abbreviations,
# names, titles and historical words, and one test fixture that ships in the list.
# A moderator who wants any of them blocked on a video adds it to its blocked_terms.
# fmt: off
EXCLUDED: frozenset[str] = frozenset({
    # everyday words and phrases whose first meaning is innocent
    "bareback", "bastardized", "big black", "bondage", "butt", "domination", "dominatrix", "escort",
    "eunuch", "fingering", "girl on", "girl on top", "grope", "hard core", "hardcore", "hoe", "hooker",
    "hot chick", "how to kill", "how to murder", "huge fat", "jelly donut", "kinky", "lolita",
    "make me come", "missionary position", "negro", "panties", "panty", "pegging", "pissed", "pissing",
    "playboy", "poof", "rimming", "scat", "scissoring", "shrimping", "simp", "skeet", "smut", "snatch",
    "snowballing", "spread legs", "spunk", "strip club", "suck", "sucks", "sultry women", "swastika",
    "swinger", "tainted love", "taste my", "threesome", "tied up", "tight white", "tongue in a",
    "topless", "twink", "twinkie", "undressing", "vibrator", "voyeur", "wrapping men",
    # clinical, anatomical and legal words
    "anus", "clitoris", "ejaculation", "erotic", "erotism", "fecal", "genitals", "homoerotic", "incest",
    "intercourse", "lovemaking", "mound of venus", "nipple", "nipples", "nude", "nudity", "nymphomania",
    "orgasm", "penis", "rectum", "sadism", "semen", "sex", "sexo", "sexy", "sodomy", "vagina",
    "venus mound", "vulva",
    # exclamations and chat abbreviations
    "god damn", "lmfao", "omfg", "wtf", "xxx",
    # names, titles, historical words
    "bastinado", "octopussy", "santorum", "strappado",
    # a test fixture shipped in the list
    "testbad01",
})
# fmt: on

# Phrases that contain a listed word but are not abuse: names, titles, idioms, birds.
ALLOWED: tuple[str, ...] = (
    "dick van dyke", "moby dick", "philip k dick", "dick tracy", "dick cheney", "dick grayson", "spotted dick",
    "tit for tat", "blue tit", "blue tits", "coal tit", "great tit", "long tailed tit",
    "cum laude", "summa cum laude", "magna cum laude", "cummings",
    "pussy willow", "pussy cat",
    "spic and span", "coon hound", "coon dog",
    "anal retentive", "anal fin",
)  # fmt: skip


def _letters(term: str) -> int:
    return sum(1 for word in skeleton(term) for c in word if c.isalnum())


def parse_terms(document: str) -> tuple[str, ...]:
    """The usable terms of a glin-profanity dictionary document ({"words": [...]} or [...])."""
    data: object = json.loads(document)
    words = data.get("words", []) if isinstance(data, dict) else data
    if not isinstance(words, list):
        raise ValueError("the profanity list is neither a list nor {'words': [...]}")
    usable = (w.strip() for w in words if isinstance(w, str))
    return tuple(dict.fromkeys(w for w in usable if w.casefold() not in EXCLUDED and _letters(w) >= MIN_LETTERS))


@cache
def library_terms() -> tuple[str, ...]:
    """The library's English list, less what we exclude."""
    document = resources.files(SOURCE_PACKAGE).joinpath(SOURCE_FILE).read_text(encoding="utf-8")
    return parse_terms(document)


@cache
def library_matcher() -> TermMatcher:
    """The matcher for the library list, built on first use and kept."""
    return TermMatcher(library_terms(), allow=ALLOWED)
