from __future__ import annotations

from bot.normalize import fold, fold_with_map


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
