from __future__ import annotations

import unicodedata

import pytest

from bot.match.normalize import (
    FOLD_TABLE,
    char_offset,
    fold,
    fold_aligned,
    fold_chars_reference,
    fold_with_map,
    offset_map,
    scan_form,
)


def test_full_width_letters_fold_to_half_width_lowercase():
    assert fold("ＤｅｅｐＳｅｅｋ") == "deepseek"


def test_traditional_chinese_folds_to_simplified():
    assert fold("騰訊混元") == "腾讯混元"
    assert fold("商湯科技") == "商汤科技"


def test_punctuation_and_possessives_become_spaces_keeping_length():
    text = "Baidu’s ERNIE-Bot, Zhipu.AI「混元」"
    folded, index = fold_with_map(text)
    assert folded == "baidu s ernie bot  zhipu ai 混元 "
    assert index is None  # same length: offsets are shared


def test_length_changing_fold_keeps_a_map_to_original_offsets():
    text = "Straße Baidu"
    folded, index = fold_with_map(text)
    assert folded == "strasse baidu"
    assert index is not None
    start = folded.index("baidu")
    assert text[index[start]:index[start + 4] + 1] == "Baidu"


# Strings that exercise every branch of the fast fold: full width, traditional Chinese (also
# outside the BMP), combining accents, ligatures and other characters NFKC expands, emoji,
# Hangul jamo that compose, case folding that expands, and mixed scripts.
TRICKY = [
    "ＤｅｅｐＳｅｅｋ　Ｒ１，發佈了！",
    "騰訊混元與百度文心一言的對決「商湯」",
    "Cafe\u0301 Baidu\u2019s ERNIE\u2014Bot\u2026 ﬁne ﬂow ㈱ ½ ™",
    "Straße İstanbul ΣΊΣΥΦΟΣ ŉ",
    "🤖 DeepSeek 🇨🇳 发布 V3；𠀋𡃁 and 𧸘",
    "\u1100\u1161\u11a8 한국어 Kimi",
    "Qwen3 通义千问 Ｑｗｅｎ — tab\there\nnew line\u3000ideographic space",
    "a\u0301\u0323 o\u0308\u0304 Å Ω K",
    "",
    "plain ascii, with punctuation: (yes) it's \"quoted\"",
]


def slow_fold(text: str) -> str:
    return fold_chars_reference(unicodedata.normalize("NFKC", text).casefold())


@pytest.mark.parametrize("text", TRICKY)
def test_fast_fold_equals_the_slow_reference_fold(text):
    assert fold(text) == slow_fold(text)
    folded, _ = fold_aligned(text)
    assert folded == slow_fold(text)


def test_fast_fold_equals_the_reference_on_every_table_character():
    every = "".join(chr(code) for code in FOLD_TABLE)
    assert fold_chars_reference(every) != every  # the table does change things
    for chunk in (every, every[::-1], "x".join(every[:2000])):
        assert fold(chunk) == slow_fold(chunk)


@pytest.mark.parametrize("text", TRICKY)
def test_offset_map_covers_the_folded_text_in_order(text):
    folded, aligned = fold_aligned(text)
    starts, ends = offset_map(text)
    assert len(starts) == len(ends) == len(folded)
    assert starts == sorted(starts) and ends == sorted(ends)
    assert all(0 <= s < e <= len(text) for s, e in zip(starts, ends))
    if aligned:
        assert len(folded) == len(text)
        assert starts == list(range(len(text)))


def test_spans_map_back_to_the_written_characters():
    text = "Cafe\u0301 Baidu… ＤｅｅｐＳｅｅｋ ﬁne 騰訊 \u1100\u1161 ok"
    folded, aligned = fold_aligned(text)
    assert not aligned
    starts, ends = offset_map(text)

    def back(word: str) -> str:
        at = folded.index(word)
        return text[starts[at]:ends[at + len(word) - 1]]

    assert back("café") == "Cafe\u0301"  # the accent composed with its letter
    assert back("baidu") == "Baidu"
    assert back("deepseek") == "ＤｅｅｐＳｅｅｋ"
    assert back("fine") == "ﬁne"
    assert back("腾讯") == "騰訊"
    assert back("\uac00") == "\u1100\u1161"  # jamo composed into one syllable
    assert back("ok") == "ok"


def test_common_text_is_aligned_without_a_map():
    assert fold_aligned("Baidu’s ERNIE-Bot") == ("baidu s ernie bot", True)
    assert fold_aligned("百度发布文心一言。") == ("百度发布文心一言 ", True)
    assert fold_aligned("騰訊") == ("腾讯", True)


@pytest.mark.parametrize("text", TRICKY + ["lone \ud800 surrogate 百度"])
def test_scan_form_offsets_convert_back_to_characters(text):
    scanned = scan_form(text)
    assert scanned == text if text.isascii() else len(scanned) >= len(text)
    # every character boundary of the text is a byte boundary of its scan form, in order
    bounds = [len(text[:i].encode("utf-8", "surrogatepass")) for i in range(len(text) + 1)]
    assert [char_offset(scanned, b) for b in bounds] == list(range(len(text) + 1))

