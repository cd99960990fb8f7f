"""Text to skeleton: what a comment spells once its disguises are taken off. Pure.

A comment is cut into *units*, each a word of the skeleton, keeping word boundaries
so that a term is matched against whole words, never inside a longer one:

1. Characters that show nothing (zero-width, bidi controls, word joiners, the BOM,
   the soft hyphen, Hangul fillers) are removed, so they cannot split a word.
2. Each character is NFKC-normalised (full-width and other compatibility forms),
   case-folded, NFKD-decomposed with its combining marks dropped (diacritics), and
   mapped to the Latin letter it looks like: other scripts through Unicode's
   confusables table (UTS #39, from the `confusable-homoglyphs` package), Latin
   variants (stroke, hook, small capital, dotless, script) through their Unicode
   names, and a short explicit map for what neither covers.
3. Letters, digits and the leetspeak symbols ``@ $ | + € £ ¢`` (and ``!`` between two
   letters) form tokens; everything else separates them. Scripts written without
   spaces (Han, kana, Thai, ...) give one token per character.
4. Runs of one-character tokens (``z o r b l a x``, ``z.o.r.b.l.a.x``) are joined
   into one unit, marked `spaced`.
5. In a unit with a letter in it (or no digit), digits and symbols are read as the
   letters they stand for (``z0rbl4x``, ``5h17``, ``@$$``); ambiguous ones keep every
   reading (``1`` is ``i`` or ``l``). Units of digits (``2024``, ``+1``) stay numbers.

Each position of a unit keeps all its readings; the matcher (moderation.terms) tries
them, and tolerates repeated letters. Offsets point into the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from confusable_homoglyphs import confusables

# Shown as nothing, or only steering direction. Category Cf covers most; listed for the record.
_INVISIBLE_RANGES = (
    (0x200B, 0x200F),  # zero width space/non-joiner/joiner, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
)
_INVISIBLE_EXTRA = frozenset(
    {
        0x00AD,  # soft hyphen
        0xFEFF,  # zero width no-break space (BOM)
        0x034F,  # combining grapheme joiner
        0x061C,  # arabic letter mark
        0x180E,  # mongolian vowel separator
        0x115F,  # hangul choseong filler
        0x1160,  # hangul jungseong filler
        0x3164,  # hangul filler
        0xFFA0,  # halfwidth hangul filler
    }
)

# Leetspeak: what a digit or symbol stands for inside a word; the first reading is the literal one.
LEET: dict[str, str] = {
    "0": "o",
    "1": "il",
    "3": "e",
    "4": "a",
    "5": "s",
    "6": "gb",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "il",
    "+": "t",
    "€": "e",
    "£": "l",
    "¢": "c",
}
_WORD_SYMBOLS = frozenset("@$|+€£¢")  # part of a word although not alphanumeric ("!" only between letters)

# Look-alikes that neither NFKD, the Latin-name rule nor the confusables table map to an ASCII letter.
_EXPLICIT: dict[str, str] = {
    "ɑ": "a",  # latin small letter alpha
    "ω": "w",  # greek omega
    "ɩ": "i",  # latin small letter iota
    "ǀ": "l",  # latin letter dental click, a vertical stroke
    "п": "n",  # cyrillic pe, as written in lower case
    "ц": "u",  # cyrillic tse
    "ш": "w",  # cyrillic sha
}
# Enclosed and regional-indicator letters without a compatibility decomposition: 🅰 🅐 🇦 ...
_LETTER_BLOCKS = ((0x1F170, 0x1F189), (0x1F150, 0x1F169), (0x1F1E6, 0x1F1FF))

# Latin letters that are a plain letter with something added: ø ł đ ħ ı ɡ ʙ ...
_LATIN_NAME = re.compile(
    r"LATIN (?:SMALL |CAPITAL |SMALL CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT )?([A-Z])(?: WITH .+)?"
)

# Scripts written without spaces between words: each character is its own token.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # thai, lao
    (0x1000, 0x109F),  # myanmar
    (0x1780, 0x17FF),  # khmer
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # cjk extension a
    (0x4E00, 0x9FFF),  # cjk unified ideographs
    (0xF900, 0xFAFF),  # cjk compatibility ideographs
    (0x20000, 0x3FFFF),  # cjk extensions b and later
)
_NO_SPACE_FIRST = chr(min(lo for lo, _ in _NO_SPACE_RANGES))


def is_invisible(ch: str) -> bool:
    """A character that renders as nothing (or only steers direction)."""
    cp = ord(ch)
    if cp in _INVISIBLE_EXTRA or any(lo <= cp <= hi for lo, hi in _INVISIBLE_RANGES):
        return True
    return unicodedata.category(ch) == "Cf"


def _in(ranges: tuple[tuple[int, int], ...], ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


def _latin_by_name(ch: str) -> str | None:
    match = _LATIN_NAME.fullmatch(unicodedata.name(ch, ""))
    return match.group(1).lower() if match else None


def _ascii_glyph(glyph: str, by_name: bool) -> str | None:
    """The ASCII letter a glyph is once its marks are dropped (case kept), or None.

    `by_name`: also take a Latin variant for its base letter (ᴛ, ʙ, ꞓ: small capitals, bars).
    """
    stripped = "".join(c for c in unicodedata.normalize("NFKD", glyph) if not unicodedata.combining(c))
    if len(stripped) != 1:
        return None
    if stripped.isascii():
        return stripped if stripped.isalpha() else None
    return _latin_by_name(stripped) if by_name else None


@lru_cache(maxsize=4096)
def _confusable_glyph(ch: str, by_name: bool = False) -> str | None:
    """The ASCII letter (case kept) Unicode's confusables table says `ch` looks like, if any."""
    found: object = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin"])
    if not isinstance(found, list):
        return None
    for entry in found:
        homoglyphs = entry.get("homoglyphs", ()) if isinstance(entry, dict) else ()
        for glyph in homoglyphs:
            letter = _ascii_glyph(str(glyph.get("c", "")), by_name) if isinstance(glyph, dict) else None
            if letter is not None:
                return letter
    return None


def _is_stroke(ch: str) -> bool:
    """A vertical stroke read as either i or l: capital I, Greek Ι, Cyrillic І and Ӏ...

    Not the small l: read as i, it would turn "tilt" into "tiit".
    """
    return ch == "I" or (not ch.isascii() and _confusable_glyph(ch) in ("I", "l"))


@lru_cache(maxsize=4096)
def _latin(ch: str) -> str:
    """A folded non-ASCII character as the ASCII letter it passes for, or itself."""
    letter = _EXPLICIT.get(ch) or _latin_by_name(ch)
    if letter is None and not unicodedata.name(ch, "").startswith("LATIN "):
        upper = ch.upper()
        forms = (ch, upper) if len(upper) == 1 and upper != ch else (ch,)  # ε has no ASCII twin, Ε has E
        tries = ((form, by_name) for by_name in (False, True) for form in forms)
        letter = next((found for form, by_name in tries if (found := _confusable_glyph(form, by_name))), None)
    return ch if letter is None else letter.lower()


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> tuple[tuple[str, bool], ...]:
    """One character of input as skeleton characters: (character, is it a vertical stroke)."""
    if is_invisible(ch):
        return ()
    if _in(_LETTER_BLOCKS, ch):
        block = next(lo for lo, hi in _LETTER_BLOCKS if lo <= ord(ch) <= hi)
        letter = chr(ord("a") + ord(ch) - block)
        return ((letter, False),)
    out: list[tuple[str, bool]] = []
    for c in unicodedata.normalize("NFKC", ch):
        stroke = _is_stroke(c)
        for d in unicodedata.normalize("NFKD", c.casefold()):
            if unicodedata.category(d) in ("Mn", "Me") or is_invisible(d):
                continue
            letter = d if d.isascii() else _latin(d)
            out.append((letter, stroke or (letter == "l" and d != "l")))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Unit:
    """One word of the skeleton.

    `chars[k]` holds every reading of position k, the literal one first ("o", or "il"
    for a ``1``); `index[k]` is the offset in the original text it came from.
    """

    chars: tuple[str, ...]
    index: tuple[int, ...]
    spaced: bool = False  # joined from spaced-out single characters

    @property
    def start(self) -> int:
        return self.index[0]

    @property
    def end(self) -> int:
        return self.index[-1] + 1

    @property
    def text(self) -> str:
        """The first reading of every position."""
        return "".join(c[0] for c in self.chars)


_Pos = tuple[str, int, bool]  # skeleton character, offset in the original text, vertical stroke


def _positions(text: str) -> list[_Pos]:
    return [(c, i, stroke) for i, ch in enumerate(text) for c, stroke in fold_char(ch)]


def _is_word(pos: list[_Pos], k: int) -> bool:
    c = pos[k][0]
    if c.isalnum() or c in _WORD_SYMBOLS:
        return True
    if c == "!":  # sh!t, but not "wow!"
        return 0 < k < len(pos) - 1 and pos[k - 1][0].isalpha() and pos[k + 1][0].isalpha()
    return False


def _tokens(pos: list[_Pos]) -> list[list[_Pos]]:
    tokens: list[list[_Pos]] = []
    current: list[_Pos] = []
    for k, p in enumerate(pos):
        if not _is_word(pos, k):
            if current:
                tokens.append(current)
            current = []
        elif p[0] >= _NO_SPACE_FIRST and _in(_NO_SPACE_RANGES, p[0]):
            if current:
                tokens.append(current)
            tokens.append([p])
            current = []
        else:
            current.append(p)
    if current:
        tokens.append(current)
    return tokens


def _readings(unit: list[_Pos], strokes: bool) -> tuple[str, ...]:
    # "z0rbl4x", "5h17" and "@$$" are words in disguise; "2024" and "+1" stay as written
    leet = any(c.isalpha() for c, _, _ in unit) or not any(c.isdigit() for c, _, _ in unit)
    out: list[str] = []
    for c, _, stroke in unit:
        if leet and c in LEET:
            out.append(LEET[c])
        elif strokes and stroke:
            out.append(c + ("l" if c == "i" else "i"))
        else:
            out.append(c)
    return tuple(out)


def units(text: str, *, strokes: bool = True) -> list[Unit]:
    """The skeleton of `text`, unit by unit.

    `strokes`: read every vertical stroke (``I``, Greek ``Ι``, Cyrillic ``Ӏ``...) as
    either ``i`` or ``l`` — right for comments, where ``sIut`` is a disguise; terms are
    compiled with it off, taken as written.
    """
    tokens = _tokens(_positions(text))
    out: list[Unit] = []
    k = 0
    while k < len(tokens):
        j = k
        while j < len(tokens) and len(tokens[j]) == 1:
            j += 1
        if j - k >= 2:  # spaced-out letters: one unit
            group = [t[0] for t in tokens[k:j]]
            out.append(Unit(_readings(group, strokes), tuple(p[1] for p in group), spaced=True))
            k = j
            continue
        token = tokens[k]
        out.append(Unit(_readings(token, strokes), tuple(p[1] for p in token)))
        k += 1
    return out


def skeleton(text: str) -> tuple[str, ...]:
    """The skeleton's words, first reading of each position: ``"Z.O.R.B.L.4.X!"`` -> ``("zorblax",)``."""
    return tuple(u.text for u in units(text, strokes=False))


# Outline: the skeleton's words as their first readings only, computed with a regular
# expression over a per-character table instead of position by position. Matching needs
# no more than this to prove that nothing can match (moderation.terms), which is the
# answer for almost every comment; the full `units` is built only when something might.

Outline = tuple[tuple[str, bool], ...]  # per unit: its first readings (Unit.text), and Unit.spaced

_OPAQUE = "\uffff"  # in a folded text: a character the outline cannot classify (never a folded letter)
_NO_SPACE_CLASS = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _NO_SPACE_RANGES)
_ALPHA = r"[^\W\d_]"  # str.isalpha, for the characters the fold table lets through
_ASCII_TOKEN = re.compile(r"(?:[A-Za-z0-9@$|+]|(?<=[A-Za-z])!(?=[A-Za-z]))+")
_ASCII_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9@$|+]+")  # the same where no "!" stands between two letters
_ASCII_BANG_WORD = re.compile(r"[A-Za-z]![A-Za-z]")
_TOKEN = re.compile(
    rf"(?=[^\W_])[{_NO_SPACE_CLASS}]"  # a letter of a script written without spaces: a token alone
    rf"|(?:(?![{_NO_SPACE_CLASS}])(?:[^\W_]|[@$|+€£¢]|(?<={_ALPHA})!(?={_ALPHA})))+"
)
_LEET_FIRST = str.maketrans({c: r[0] for c, r in LEET.items()})
_TABLE_LIMIT = 1 << 16  # distinct characters kept in the fold table


def _folded_letter(letter: str) -> str:
    """A skeleton character as the outline reads it: itself, a space (not part of a word), or opaque."""
    if letter.isascii():
        return letter
    if not (letter.isalnum() or letter in _WORD_SYMBOLS):
        return " "
    regex_alpha = re.fullmatch(_ALPHA, letter) is not None
    return letter if regex_alpha == letter.isalpha() else _OPAQUE


class _FoldTable(dict[int, str]):
    """Code point -> its skeleton characters (one per position, see `_folded_letter`), filled on demand."""

    def __missing__(self, cp: int) -> str:
        folded = "".join(_folded_letter(letter) for letter, _ in fold_char(chr(cp)))
        if len(self) < _TABLE_LIMIT:
            self[cp] = folded
        return folded


_FOLD_TABLE = _FoldTable()


@lru_cache(maxsize=1 << 16)
def first_readings(token: str) -> str:
    """The first reading of each position of a unit whose skeleton characters are `token`."""
    leet = any(c.isalpha() for c in token) or not any(c.isdigit() for c in token)
    return token.translate(_LEET_FIRST) if leet else token


def outline(text: str) -> Outline | None:
    """``tuple((u.text, u.spaced) for u in units(text))``, computed fast; None if `text` needs `units`.

    None for the rare characters whose class the regular expression cannot tell the way
    `units` does (numerals such as Bengali ``৴`` that are alphanumeric but neither letters nor digits).
    """
    found = outline_raw(text)
    return None if found is None else tuple((first_readings(raw), spaced) for raw, spaced in found)


def outline_raw(text: str) -> list[tuple[str, bool]] | None:
    """`outline` before leetspeak is read: each unit's skeleton characters (see `first_readings`)."""
    tokens = _outline_tokens(text)
    return None if tokens is None else _grouped(tokens)


def _outline_tokens(text: str) -> list[str] | None:
    folded = text.lower() if text.isascii() else text.translate(_FOLD_TABLE)
    if not folded.isascii():
        return None if _OPAQUE in folded else _TOKEN.findall(folded)
    if "!" in folded and _ASCII_BANG_WORD.search(folded):
        return _ASCII_TOKEN.findall(folded)
    return _ASCII_PLAIN_TOKEN.findall(folded)


def _grouped(tokens: list[str]) -> list[tuple[str, bool]]:
    """Tokens as units: runs of two or more one-character tokens joined (spaced), as in `units`."""
    out: list[tuple[str, bool]] = []
    run: list[str] = []
    for token in tokens:
        if len(token) == 1:
            run.append(token)
            continue
        if run:
            out.append(("".join(run), True) if len(run) > 1 else (run[0], False))
            run = []
        out.append((token, False))
    if run:
        out.append(("".join(run), True) if len(run) > 1 else (run[0], False))
    return out
