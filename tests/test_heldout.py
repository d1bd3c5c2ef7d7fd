"""The watchlists generalize: scores on held-out items written apart from the dev set.

`tests/data/heldout.jsonl` holds hand-written headlines and summaries (English, simplified and
traditional Chinese) labeled by the rules of `../shared/eval/README.md`: homonym traps (Apache
Spark, Kimi Räikkönen, the Pangu myth, 月之暗面 as the Moon's far side, CAC 40, 豆包 buns,
星火燎原, "step 1", minimax search, seed funding, the yuan …) and positives written with name
variants (typos, possessives, full-width, traditional script, pinyin, tickers). The metrics are
computed by `bench/eval_matcher.py`, the same code the dev figures come from.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "heldout.jsonl"
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
RULES = ROOT / "rules"

# Targets of the review brief are P >= 0.95, R >= 0.93, F1 >= 0.90; the rules reach 1.0 on
# this set, so the bar sits higher while leaving room for one or two honest misses.
ENTITY_PRECISION = 0.97
ENTITY_RECALL = 0.95
LIST_F1 = 0.93


def _eval_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_matcher", ROOT / "bench" / "eval_matcher.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _items(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def scores() -> dict[str, tuple[float, float, float]]:
    ev = _eval_module()
    levels = ev.evaluate(_items(HELDOUT), RULES)
    return {lv: ev.score(c["tp"], len(c["fp"]), len(c["fn"])) for lv, c in levels.items()}


def test_heldout_set_is_large_bilingual_and_has_traps() -> None:
    items = _items(HELDOUT)
    assert len(items) >= 60
    assert len({i["id"] for i in items}) == len(items)
    langs = {i["lang"] for i in items}
    assert {"en", "zh", "zh-Hant"} <= langs
    negatives = [i for i in items if not i["entities"]]
    assert len(negatives) >= 20  # homonym traps
    assert any("deepfake" in i["lists"] for i in items)
    assert any(i["entities"] and not i["lists"] for i in items)  # company news, no list


def test_heldout_items_are_not_copied_from_dev() -> None:
    if not DEV.exists():
        pytest.skip(f"{DEV} not present")
    dev_titles = {i["title"] for i in _items(DEV)}
    assert not [i["id"] for i in _items(HELDOUT) if i["title"] in dev_titles]


def test_entity_precision_on_heldout_items(scores: dict) -> None:
    precision, _, _ = scores["entity"]
    assert precision >= ENTITY_PRECISION


def test_entity_recall_on_heldout_items(scores: dict) -> None:
    _, recall, _ = scores["entity"]
    assert recall >= ENTITY_RECALL


def test_list_f1_on_heldout_items(scores: dict) -> None:
    _, _, f1 = scores["list"]
    assert f1 >= LIST_F1
