"""Text folding shared by the watchlist compiler and the matcher.

`fold` turns any text into the comparable form both sides use: NFKC (full-width → half-width),
case folding, traditional → simplified Chinese (OpenCC's character table), and punctuation,
apostrophes (so possessives: "Baidu's" → "baidu s") and symbols → spaces. It keeps the length
whenever it can, so that a match in the folded text maps back to the original characters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

# Ranges whose punctuation/symbol characters fold to a space. Scanning all of Unicode at
# import would cost ~0.3 s of startup, so only the blocks news text actually uses are read.
_PUNCT_RANGES = ((0x21, 0x7F), (0xA0, 0xC0), (0xD7, 0xD8), (0xF7, 0xF8), (0x2000, 0x2070),
                 (0x2100, 0x2200), (0x3000, 0x3040), (0x30FB, 0x30FC), (0xFE10, 0xFE70),
                 (0xFF00, 0xFF66))


def _opencc_ts_characters() -> dict[int, str]:
    """Read OpenCC's traditional → simplified character table (one-to-one entries only)."""
    import importlib.util

    # only the location of OpenCC's data files: importing the package itself costs ~4 ms
    spec = importlib.util.find_spec("opencc")
    if spec is None or spec.origin is None:
        raise ImportError("opencc-python-reimplemented is not installed")
    path = Path(spec.origin).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        src, _, dst = line.partition("\t")
        first = dst.split(" ")[0]
        if len(src) == 1 and len(first) == 1 and src != first:
            table[ord(src)] = first
    return table


def _build_table() -> dict[int, str]:
    table = _opencc_ts_characters()
    for lo, hi in _PUNCT_RANGES:
        for code in range(lo, hi):
            ch = chr(code)
            if unicodedata.category(ch)[0] in "PSZ":
                table[code] = " "
    for ch in "\t\n\r\x0b\x0c\x85":
        table[ord(ch)] = " "
    return table


FOLD_TABLE: dict[int, str] = {k: v for k, v in _build_table().items() if chr(k) != v}

# str.translate looks every character up through Python objects (~0.2 µs a character for CJK
# text), so folding Chinese text that way was the matcher's top cost. ASCII text goes through
# bytes.translate; other text is searched (at C speed, no per-character objects) for the
# characters the table changes: when only punctuation → space occurs (simplified Chinese, or
# Latin text with curly quotes), one regex substitution does it; only text that contains a
# traditional character (or one outside the BMP) pays for the full translation.
_ASCII_BYTES = bytes(ord(FOLD_TABLE.get(i, chr(i))) if i < 128 else i for i in range(256))
# the same plus A-Z → a-z: for ASCII text NFKC is the identity and casefold is lower()
_ASCII_LOWER_BYTES = bytes(ord(FOLD_TABLE.get(i, chr(i).lower())) if i < 128 else i
                           for i in range(256))


def _char_class(codes: list[int]) -> str:
    """A regex character class body for these code points, as ranges (sre then uses a bitmap)."""
    runs: list[list[int]] = []
    for c in sorted(codes):
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in runs)


@functools.cache
def _bmp_table() -> str:
    """FOLD_TABLE as a str indexed by code point (built on first use: ~30 ms)."""
    chars = list(map(chr, range(0x10000)))
    for code, value in FOLD_TABLE.items():
        if code < 0x10000:
            chars[code] = value
    return "".join(chars)


_ASTRAL_TABLE = {k: v for k, v in FOLD_TABLE.items() if k >= 0x10000}
# every BMP key whose value is a space, and every other key (any astral character counts)
_TO_SPACE = re.compile("[" + _char_class([k for k, v in FOLD_TABLE.items()
                                           if v == " " and k < 0x10000]) + "]")
_TO_OTHER = re.compile("[" + _char_class([k for k, v in FOLD_TABLE.items()
                                           if v != " " and k < 0x10000]) + "\U00010000-\U0010ffff]")
# punctuation that Chinese text (after NFKC: "，" is ",") and English text use most
_COMMON_MARKS = tuple(c for c in ",。、.“”:《》()" if FOLD_TABLE.get(ord(c)) == " ")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _fold_chars(text: str) -> str:
    """Apply FOLD_TABLE (one character for one: lengths are kept)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_BYTES).decode("ascii")
    if _TO_OTHER.search(text) is None:
        # a regex substitution costs ~0.4 µs a match: replace the usual marks first (C-speed
        # str.replace), so that the full pass below rarely finds anything left
        for mark in _COMMON_MARKS:
            if mark in text:
                text = text.replace(mark, " ")
        if _TO_SPACE.search(text) is None:
            return text
        return _TO_SPACE.sub(" ", text)
    text = text.translate(_bmp_table())  # an index past the BMP leaves the character as is
    if _ASTRAL.search(text) is not None:
        text = text.translate(_ASTRAL_TABLE)
    return text


def fold_chars_reference(text: str) -> str:
    """FOLD_TABLE applied the slow, obvious way (one dict lookup a character); for tests."""
    return text.translate(FOLD_TABLE)


# Latin-script characters that continue a word; anything else (space, punctuation, CJK) is a
# word boundary for Latin aliases.
WORD_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyz0123456789"
    + "".join(chr(c) for c in range(0xC0, 0x250) if chr(c).isalpha())
)


def fold(text: str) -> str:
    """Fold text for comparison (NFKC, casefold, 繁→简, punctuation → space); may change length."""
    return _fold_chars(unicodedata.normalize("NFKC", text).casefold())


def fold_keep_case(text: str) -> str:
    """Like `fold` but without case folding: the form case-sensitive aliases compare in."""
    return _fold_chars(unicodedata.normalize("NFKC", text))


def fold_aligned(text: str) -> tuple[str, bool]:
    """Return `fold(text)` and whether each folded character sits at its source's offset.

    True in the common case (ASCII, or NFKC-stable text whose case folding keeps the length);
    otherwise `offset_map` gives the way back, computed only when a match needs it.
    """
    if text.isascii():  # ASCII is NFKC already and lower() is its case folding
        return text.encode("ascii").translate(_ASCII_LOWER_BYTES).decode("ascii"), True
    if unicodedata.is_normalized("NFKC", text):
        t = text.casefold()
        # case folding never merges characters, so an equal length means one for one
        return _fold_chars(t), len(t) == len(text)
    return fold(text), False


# Runs of characters that fold one for one and never compose with a neighbour: ASCII and the
# CJK unified ideographs. A run ends with a space or an ideograph, which no combining mark
# joins, so the text between runs can be folded on its own.
_SAFE_RUN = re.compile("[\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff]*[ \u3400-\u4dbf\u4e00-\u9fff]")


def offset_map(text: str) -> tuple[list[int], list[int]]:
    """For each character of `fold(text)`, the [start, end) of the source characters in `text`.

    Characters that compose (a letter and its combining accents) map to the whole sequence;
    one that expands ("ß" → "ss", "…" → "...") maps each of its results to itself.
    """
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _SAFE_RUN.finditer(text):
        if m.start() > pos:
            _map_segment(text, pos, m.start(), starts, ends)
        starts.extend(range(m.start(), m.end()))
        ends.extend(range(m.start() + 1, m.end() + 1))
        pos = m.end()
    if pos < len(text):
        _map_segment(text, pos, len(text), starts, ends)
    if len(starts) != len(fold(text)):  # cannot happen by the argument above; stay safe
        starts, ends = [], []
        _map_prefixes(text, 0, len(text), list(range(len(text) + 1)), starts, ends)
    return starts, ends


def _map_segment(text: str, lo: int, hi: int, starts: list[int], ends: list[int]) -> None:
    """Map text[lo:hi] cluster by cluster (a starter and the combining marks after it)."""
    bounds = [lo] + [i for i in range(lo + 1, hi) if not unicodedata.combining(text[i])] + [hi]
    parts = [fold(text[a:b]) for a, b in zip(bounds, bounds[1:])]
    if "".join(parts) == fold(text[lo:hi]):
        for (a, b), part in zip(zip(bounds, bounds[1:]), parts):
            starts.extend([a] * len(part))
            ends.extend([b] * len(part))
    else:  # e.g. Hangul jamo that compose across clusters
        _map_prefixes(text, lo, hi, bounds, starts, ends)


def _map_prefixes(text: str, lo: int, hi: int, bounds: list[int], starts: list[int],
                  ends: list[int]) -> None:
    """Slow but always consistent: a cluster owns the folded characters its prefix adds."""
    total = len(fold(text[lo:hi]))
    done = 0
    for a, b in zip(bounds, bounds[1:]):
        upto = min(total, max(done, len(fold(text[lo:b]))))
        if upto == done and done:  # it composed into the previous character: widen that one
            ends[-1] = b
        starts.extend([a] * (upto - done))
        ends.extend([b] * (upto - done))
        done = upto


def scan_form(text: str) -> str:
    """The text as the automata see it: its UTF-8 bytes, one character per byte (latin-1).

    pyahocorasick looks up a node's children one by one: with ~170 Chinese first characters
    next to the Latin ones under the root, every character of every item paid for that list.
    Spelled in UTF-8 bytes, Chinese characters share six lead bytes, and the scan takes half
    the time. UTF-8 is self-synchronizing, so a key can only match at character boundaries.
    ASCII text is its own scan form.
    """
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def char_offset(scanned: str, pos: int) -> int:
    """The character offset of byte offset `pos` of a `scan_form` text."""
    return len(scanned[:pos].encode("latin-1").decode("utf-8", "surrogatepass"))


def fold_with_map(text: str) -> tuple[str, list[int] | None]:
    """Fold text and return, when offsets differ, each folded char's index in `text`.

    The map is None when each folded character sits at the offset of its source (the common
    case), which means offsets are shared.
    """
    folded, aligned = fold_aligned(text)
    return folded, None if aligned else offset_map(text)[0]
