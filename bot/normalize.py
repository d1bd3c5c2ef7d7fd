"""Text folding shared by the watchlist compiler and the matcher.

`fold` turns any text into the comparable form both sides use: NFKC (full-width → half-width),
case folding, traditional → simplified Chinese (OpenCC's character table), and punctuation,
apostrophes (so possessives: "Baidu's" → "baidu s") and symbols → spaces. It keeps the length
whenever it can, so that a match in the folded text maps back to the original characters.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

# Ranges whose punctuation/symbol characters fold to a space. Scanning all of Unicode at
# import would cost ~0.3 s of startup, so only the blocks news text actually uses are read.
_PUNCT_RANGES = ((0x21, 0x7F), (0xA0, 0xC0), (0xD7, 0xD8), (0xF7, 0xF8), (0x2000, 0x2070),
                 (0x2100, 0x2200), (0x3000, 0x3040), (0x30FB, 0x30FC), (0xFE10, 0xFE70),
                 (0xFF00, 0xFF66))


def _opencc_ts_characters() -> dict[int, str]:
    """Read OpenCC's traditional → simplified character table (one-to-one entries only)."""
    import opencc  # only for the location of its data files

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
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

# str.translate with a dict raises and swallows a KeyError for every unchanged character,
# which is slow for CJK text; a str indexed by code point never misses in the BMP. ASCII text
# goes through bytes.translate, faster still.
_ASCII_BYTES = bytes(ord(FOLD_TABLE.get(i, chr(i))) if i < 128 else i for i in range(256))


def _bmp_table() -> str:
    chars = list(map(chr, range(0x10000)))
    for code, value in FOLD_TABLE.items():
        if code < 0x10000:
            chars[code] = value
    return "".join(chars)


_BMP_TABLE = _bmp_table()


def _fold_chars(text: str) -> str:
    """Apply FOLD_TABLE (one character for one: lengths are kept)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_BYTES).decode("ascii")
    return text.translate(_BMP_TABLE)


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


def fold_with_map(text: str) -> tuple[str, list[int] | None]:
    """Fold text and return, when the length changed, each folded char's index in `text`.

    The map is None when folded and original have the same length (the common case), which
    means offsets are shared.
    """
    if text.isascii():  # ASCII is NFKC already; only case folding remains (same length)
        return _fold_chars(text.lower()), None
    t = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    if len(t) == len(text):
        t2 = t.casefold()
        if len(t2) == len(text):
            return _fold_chars(t2), None
    # Rare: NFKC or case folding expanded/contracted something; fold char by char to keep
    # a map (combining sequences then stay uncomposed, which only matters for exotic input).
    parts: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        f = unicodedata.normalize("NFKC", ch).casefold()
        parts.append(f)
        index.extend([i] * len(f))
    return _fold_chars("".join(parts)), index
