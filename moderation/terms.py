"""Blocked terms found in a comment, through its disguises. Pure.

A `TermMatcher` is built once per term list (the caller caches it) and answers
`find(text)`: the first blocked term in the text and where, or None.

Matching works on the skeleton (moderation.normalize) and on whole units only:

- a one-word term matches a whole word of the comment, never part of one, so
  "Scunthorpe", "class" and "therapist" pass a block on a term inside them;
- a several-word term matches that many consecutive words ("blow job"), and also
  the words written together ("blowjob") or spaced out ("b l o w j o b");
- spaced-out letters (``z o r b l a x``) are one unit, searched for a term anywhere
  inside it, since letters spaced out one by one are written to be read together;
- a repeated letter stands for one or more of it (``zzooorrbblaaax``), but never
  for fewer: "as" does not match "ass", nor "bob" "boob";
- every reading of an ambiguous position is tried (``1`` is ``i`` or ``l``);
- a plural ending after a term's last word still matches, written exactly: ``s``,
  or ``es`` after s, x, z, h ("zorblaxes", "bitches"); "assess" is no plural of "ass".

Phrases given as `allow` win over terms: a match lying inside an allowed phrase
("Dick Van Dyke", "tit for tat") is no match.

Most comments contain no term, and `find` proves that first, cheaply: from the text's
outline (moderation.normalize.outline, the first reading of every unit) it looks each
unit's key up among the keys a term could be found under, with the fewest positions
that term needs, and scans spaced-out letters for such a key. Only when one is there
does it build the full units and check them as above, so the answer is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice, product

from moderation.normalize import Unit, first_readings, outline_raw, units

Runs = tuple[tuple[str, int, bool], ...]  # a word as runs: letter, how many times, may it repeat more

_MAX_READINGS = 64  # spellings kept per term word (terms with many ambiguous leet digits)
_COARSE = {"l": "i", "g": "b"}  # index keys merge the letters one position may stand for ("1": i/l, "6": g/b)


@dataclass(frozen=True, slots=True)
class Match:
    """A blocked `term` (as it was given), found at `text[start:end]`."""

    term: str
    start: int
    end: int


def _key(letters: Iterable[str]) -> str:
    """Index key: the first reading of each position, ambiguous letters merged, repeats collapsed."""
    out: list[str] = []
    for c in letters:
        k = _COARSE.get(c, c)
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)


_Sketch = tuple[str, int, bool, str]  # a unit of the outline: its key, positions, spaced, first readings


@lru_cache(maxsize=1 << 16)
def _sketch(raw: str, spaced: bool) -> _Sketch:
    """A unit of the outline from its skeleton characters, kept: the same words come up again and again."""
    letters = first_readings(raw)
    return _text_key(letters), len(letters), spaced, letters


@lru_cache(maxsize=1 << 16)
def _text_key(letters: str) -> str:
    """`_key` of a unit's first readings (`Unit.text`), kept."""
    return _key(letters)


def _runs(word: str, stretch: bool = True) -> Runs:
    out: list[tuple[str, int, bool]] = []
    for c in word:
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1] + 1, stretch)
        else:
            out.append((c, 1, stretch))
    return tuple(out)


def _plurals(runs: Runs) -> tuple[Runs, ...]:
    """The word and its plurals; the ending is exact ("ass" gives "asses", not "assess")."""
    last = runs[-1][0]
    if not last.isalpha():
        return (runs,)
    return (runs, runs + _runs("es" if last in "sxzh" else "s", False))


_VOWELS = frozenset("aeiouy")


def _stretched(tag: int, letter: str, extra: int) -> int:
    """How far a reading has stretched the term: 0 not, 1 one vowel more, 2 one consonant more, 3 more."""
    if extra == 0:
        return tag
    if tag == 0 and extra == 1:
        return 1 if letter in _VOWELS else 2
    return 3


def _fits(chars: Sequence[str], lo: int, hi: int, runs: Runs) -> bool:
    """Can chars[lo:hi] be read as `runs`, each run's letter repeated its count (or more where it may)?

    A single extra consonant is not a stretch but ordinary spelling ("rapping", "Bonner",
    "annals"), so it does not match; one extra vowel ("shiit") or more letters do.
    """
    states = {(lo, 0)}
    for letter, count, stretch in runs:
        following: set[tuple[int, int]] = set()
        for start, tag in states:
            stop = start
            while stop < hi and letter in chars[stop]:
                stop += 1
            if stop - start < count:
                continue
            last = stop if stretch else start + count
            following.update(
                (end, _stretched(tag, letter, end - start - count)) for end in range(start + count, last + 1)
            )
        if not following:
            return False
        states = following
    return (hi, 0) in states or (hi, 1) in states or (hi, 3) in states


@dataclass(frozen=True, slots=True)
class _Word:
    key: str
    spellings: tuple[Runs, ...]

    def fits(self, chars: Sequence[str], lo: int, hi: int, plural: bool) -> bool:
        forms = (f for runs in self.spellings for f in (_plurals(runs) if plural else (runs,)))
        return any(_fits(chars, lo, hi, form) for form in forms)


@dataclass(frozen=True, slots=True)
class _Term:
    text: str
    words: tuple[_Word, ...]


def _word(readings: Sequence[str]) -> _Word:
    spellings = tuple(_runs("".join(p)) for p in islice(product(*readings), _MAX_READINGS))
    return _Word(_key(r[0] for r in readings), spellings)


def _compile(term: str) -> list[_Term]:
    """A term as the word sequences it matches: as written, and (several words) joined into one."""
    parts = units(term, strokes=False)
    if not parts:
        return []
    compiled = [_Term(term, tuple(_word(u.chars) for u in parts))]
    if len(parts) > 1:
        compiled.append(_Term(term, (_word([r for u in parts for r in u.chars]),)))
    return compiled


def _candidate_keys(key: str) -> list[str]:
    keys = [key]
    if len(key) > 1 and key.endswith("s"):
        keys.append(key[:-1])
        if len(key) > 2 and key.endswith("es"):
            keys.append(key[:-2])
    return keys


class _Index:
    """Compiled terms by the key of their first word."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.by_key: dict[str, list[_Term]] = {}
        self.terms: list[str] = []
        for term in dict.fromkeys(terms):
            compiled = _compile(term)
            if compiled:
                self.terms.append(term)
            for entry in compiled:
                self.by_key.setdefault(entry.words[0].key, []).append(entry)
        self.longest_key = max((len(k) for k in self.by_key), default=0)
        self.gates = _gates(self.by_key)
        one_word = {key for key, entries in self.by_key.items() if any(len(e.words) == 1 for e in entries)}
        self.inside_keys = frozenset(k + end for k in one_word for end in ("", "s", "es"))
        self.inside_prefixes = frozenset(k[:n] for k in self.inside_keys for n in range(1, len(k) + 1))

    def may_match(self, sketch: Sequence[_Sketch]) -> bool:
        """Could `at` or `inside` find a term in these units (key, positions, spaced, first readings)?

        False proves they find none: `at` looks only under a unit's `_candidate_keys`, and
        a term's words fit only units of their keys (`_whole_fits`) with at least their fewest
        positions; `inside` looks under the keys of stretches of spaced-out letters, which are
        scanned here the same way (without its width limit).
        """
        count = len(sketch)
        for i, (key, _, spaced, letters) in enumerate(sketch):
            for gate in self.gates.get(key, ()):
                if i + len(gate) <= count and all(
                    sketch[i + j][0] in keys and sketch[i + j][1] >= need for j, (keys, need) in enumerate(gate)
                ):
                    return True
            if spaced and self._inside_may(letters):
                return True
        return False

    def _inside_may(self, letters: str) -> bool:
        """Is a key of `inside_keys` the key of some stretch of `letters`?

        The key of letters[lo:hi] only grows with hi, so the scan from lo stops at the
        first key that begins no key of the set.
        """
        keys, prefixes = self.inside_keys, self.inside_prefixes
        coarse = letters.translate(_COARSE_TABLE)
        for lo in range(len(coarse)):
            key = ""
            for c in coarse[lo:]:
                if key.endswith(c):  # a repeat: the same key
                    continue
                key += c
                if key not in prefixes:
                    break
                if key in keys:
                    return True
        return False

    def at(self, words: Sequence[Unit], keys: Sequence[str], i: int) -> Iterator[tuple[_Term, int]]:
        """Every term whose words are words[i:i+n] (n >= 1): the term and n."""
        for key in _candidate_keys(keys[i]):
            for entry in self.by_key.get(key, ()):
                n = len(entry.words)
                if i + n <= len(words) and all(
                    _whole_fits(entry.words[j], words[i + j], keys[i + j], last=j == n - 1) for j in range(n)
                ):
                    yield entry, n

    def inside(self, word: Unit) -> tuple[_Term, int, int] | None:
        """A one-word term anywhere inside spaced-out letters: the term and its position span."""
        chars = word.chars
        widest = 4 * self.longest_key + 8  # a term, each letter repeated a few times
        for lo in range(len(chars)):
            key = ""
            entries: list[_Term] = []
            for hi in range(lo + 1, min(len(chars), lo + widest) + 1):
                grown = _extend(key, chars[hi - 1][0])
                if grown != key:
                    key = grown
                    if len(key) > self.longest_key + 2:
                        break
                    entries = [e for k in _candidate_keys(key) for e in self.by_key.get(k, ()) if len(e.words) == 1]
                for entry in entries:
                    if entry.words[0].fits(chars, lo, hi, True):
                        return entry, lo, hi
        return None


_Gate = tuple[tuple[frozenset[str], int], ...]  # per word of a term: the unit keys it fits, its fewest positions


def _gate(term: _Term) -> _Gate:
    last = len(term.words) - 1
    return tuple(
        (
            frozenset((w.key, _key(w.key + "s"), _key(w.key + "es")) if j == last else (w.key,)),
            min(sum(count for _, count, _ in runs) for runs in w.spellings),
        )
        for j, w in enumerate(term.words)
    )


def _gates(by_key: dict[str, list[_Term]]) -> dict[str, tuple[_Gate, ...]]:
    """For every unit key a term is looked up under (see `_candidate_keys`), what its words need."""
    found: dict[str, dict[_Gate, None]] = {}
    for key, entries in by_key.items():
        for unit_key in (key, key + "s", key + "es"):
            gates = found.setdefault(unit_key, {})
            gates.update(dict.fromkeys(_gate(entry) for entry in entries))
    return {key: tuple(gates) for key, gates in found.items()}


_COARSE_TABLE = str.maketrans(_COARSE)


def _extend(key: str, c: str) -> str:
    k = _COARSE.get(c, c)
    return key if key.endswith(k) else key + k


def _whole_fits(word: _Word, unit: Unit, key: str, last: bool) -> bool:
    """Does the whole `unit` read as `word` (with a plural ending if it is a term's last word)?"""
    keys = (word.key, _key(word.key + "s"), _key(word.key + "es")) if last else (word.key,)
    return key in keys and word.fits(unit.chars, 0, len(unit.chars), last)


class Prepared:
    """A comment prepared once for every matcher that screens it (see `prepare`)."""

    __slots__ = ("text", "sketch", "_units")

    def __init__(self, text: str) -> None:
        self.text = text
        found = outline_raw(text)
        self.sketch = None if found is None else [_sketch(raw, spaced) for raw, spaced in found]
        self._units: tuple[list[Unit], list[str]] | None = None

    def units(self) -> tuple[list[Unit], list[str]]:
        """The text's units and their keys, built on first use."""
        if self._units is None:
            words = units(self.text)
            self._units = (words, [_text_key(w.text) for w in words])
        return self._units


def prepare(text: str) -> Prepared:
    """`text` ready to be screened by several matchers, its normalisation done once."""
    return Prepared(text)


class TermMatcher:
    """Finds blocked terms in comments; build once per term list and keep it.

    `terms`: blocked words or phrases, in any script, any case, written plainly.
    `allow`: phrases that are never a match even though they contain a term.
    Terms that have no letters or digits (only punctuation or emoji) are ignored.
    """

    def __init__(self, terms: Iterable[str], *, allow: Iterable[str] = ()) -> None:
        self._blocked = _Index(terms)
        self._allowed = _Index(allow)

    @property
    def terms(self) -> tuple[str, ...]:
        """The terms in use, as given, without duplicates or those with nothing to match."""
        return tuple(self._blocked.terms)

    def __len__(self) -> int:
        return len(self._blocked.terms)

    def __repr__(self) -> str:
        return f"TermMatcher({len(self)} terms)"

    def find(self, text: str | Prepared) -> Match | None:
        """The first blocked term in `text` (leftmost), or None. `text` may be `prepare`d."""
        prepared = text if isinstance(text, Prepared) else Prepared(text)
        if not self._blocked.by_key:
            return None
        if prepared.sketch is not None and not self._blocked.may_match(prepared.sketch):
            return None
        return self._find_in(*prepared.units())

    def _find_exact(self, text: str) -> Match | None:
        """`find` without the proof of no match: every text through its full units (the reference)."""
        if not self._blocked.by_key:
            return None
        words = units(text)
        return self._find_in(words, [_key(r[0] for r in w.chars) for w in words])

    def _find_in(self, words: Sequence[Unit], keys: Sequence[str]) -> Match | None:
        allowed = self._allowed_spans(words, keys)
        for i, word in enumerate(words):
            for entry, n in self._blocked.at(words, keys, i):
                if not any(lo <= i and i + n <= hi for lo, hi in allowed):
                    return Match(entry.text, word.start, words[i + n - 1].end)
            if word.spaced:
                inside = self._blocked.inside(word)
                if inside is not None and not any(lo <= i < hi for lo, hi in allowed):
                    entry, a, b = inside
                    return Match(entry.text, word.index[a], word.index[b - 1] + 1)
        return None

    def _allowed_spans(self, words: Sequence[Unit], keys: Sequence[str]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for i in range(len(words) if self._allowed.by_key else 0):
            spans.extend((i, i + n) for _, n in self._allowed.at(words, keys, i))
        return spans
