"""`product_groups:` in rules files: which names name one product (AliasSpec.group)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError
from bot.match.matching import match_item
from bot.match.rules import load_watchlists
from bot.match.watchlists import Watchlists

RULES = Path(__file__).resolve().parents[1] / "rules"

KUAISHOU = """list: llm
title: LLMs
topic: [video generation]
entities:
  - id: kuaishou
    name: Kuaishou
    zh: 快手
    aliases: [Kwai]
    products:
      - Kling AI
      - 可灵
      - {name: Kling, context: [Kuaishou, 快手, video]}
      - Kolors
      - ERNIE Bot
      - ERNIE-Bot
    product_groups:
{groups}
"""


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Compiled rules are cached in a fresh folder per test, never in the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(folder))
    return folder


def rules(tmp_path: Path, groups: str) -> Path:
    (tmp_path / "llm.yaml").write_text(KUAISHOU.replace("{groups}", groups), encoding="utf-8")
    return tmp_path


def problems(rules_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_watchlists(rules_dir)
    return [str(p) for p in exc.value.problems]


def group_of(wl: Watchlists, text: str) -> str | None:
    (spec,) = [s for s in wl.tables.alias_of.values() if s.text == text]
    return spec.group


def groups(wl: Watchlists) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for spec in wl.tables.alias_of.values():
        if spec.group:
            out.setdefault(spec.group, set()).add(spec.text)
    return out


def test_a_product_group_names_one_product_through_every_spelling(tmp_path):
    wl = load_watchlists(rules(tmp_path, "      - [Kling, 可灵, Kling AI]\n"))
    assert groups(wl) == {"kuaishou/kling": {"Kling", "可灵", "Kling AI"}}
    # spelling variants are found as their alias: "KlingAI", traditional 可靈
    for text in ("KlingAI tops video generation charts", "可靈 video generation"):
        hits = match_item(text, "", wl)
        assert hits and {group_of(wl, h.alias) for h in hits} == {"kuaishou/kling"}, text


def test_names_outside_every_group_have_no_group(tmp_path):
    wl = load_watchlists(rules(tmp_path, "      - [Kling, 可灵, Kling AI]\n"))
    assert group_of(wl, "Kolors") is None
    assert group_of(wl, "Kuaishou") is None and group_of(wl, "快手") is None


def test_a_group_is_named_by_its_first_name_folded(tmp_path):
    wl = load_watchlists(rules(tmp_path, "      - [Kling AI, Kling]\n      - [ERNIE Bot]\n"))
    assert group_of(wl, "Kling") == "kuaishou/kling-ai"
    assert group_of(wl, "ERNIE Bot") == "kuaishou/ernie-bot"


def test_two_spellings_of_one_alias_may_share_a_group(tmp_path):
    # ERNIE-Bot and ERNIE Bot fold to one alias, as in `products:`
    wl = load_watchlists(rules(tmp_path, "      - [ERNIE Bot, ERNIE-Bot]\n"))
    assert group_of(wl, "ERNIE Bot") == "kuaishou/ernie-bot"


def test_a_group_name_that_is_not_an_alias_of_the_entity_is_an_error(tmp_path):
    found = problems(rules(tmp_path, "      - [Kling, 可灵, Kling 3.0]\n"))
    f = str(tmp_path / "llm.yaml")
    assert found == [f"{f}:17: product group: 'Kling 3.0' is not a name of entity 'kuaishou'; "
                     "list it under `products:` (or `aliases:`) too"]


def test_a_name_of_another_entity_is_not_a_name_of_this_one(tmp_path):
    (tmp_path / "other.yaml").write_text(
        "list: other\ntitle: Other\nentities:\n  - {id: baidu, name: Baidu, products: [Wenxin]}\n",
        encoding="utf-8")
    (p,) = problems(rules(tmp_path, "      - [Kling, Wenxin]\n"))
    assert ":17: product group: 'Wenxin' is not a name of entity 'kuaishou'" in p


def test_a_name_in_two_groups_is_an_error_at_its_second_place(tmp_path):
    found = problems(rules(tmp_path, "      - [Kling, 可灵]\n      - [Kolors, kling]\n"))
    f = str(tmp_path / "llm.yaml")
    assert found == [f"{f}:18: product group: 'kling' is already in the group at line 17; "
                     "a name names one product"]


def test_an_empty_or_malformed_group_is_an_error(tmp_path):
    found = problems(rules(tmp_path, "      - []\n      - Kling\n      - [[Kling]]\n"))
    assert any(":17: empty product group" in p for p in found)
    assert any(":18: expected a list" in p for p in found)
    assert any(":19: expected a string" in p for p in found)
    (p,) = problems(rules(tmp_path, "      [Kling]: 1\n"))
    assert ":17: expected a list" in p


def test_rules_without_product_groups_still_load(tmp_path):
    wl = load_watchlists(rules(tmp_path, "      []\n"))
    assert groups(wl) == {}
    (tmp_path / "llm.yaml").write_text(
        KUAISHOU.replace("    product_groups:\n{groups}\n", ""), encoding="utf-8")
    assert groups(load_watchlists(tmp_path)) == {}


def test_groups_survive_the_compiled_rules_cache(tmp_path, cache_in_tmp):
    rules_dir = rules(tmp_path, "      - [Kling, 可灵]\n")
    load_watchlists(rules_dir)
    assert len(list(cache_in_tmp.glob("watchlists-*.pickle"))) == 1
    assert group_of(load_watchlists(rules_dir), "可灵") == "kuaishou/kling"


def test_shipped_rules_group_each_product_across_languages():
    wl = load_watchlists(RULES)
    by_text = {s.text: s.group for s in wl.tables.alias_of.values()}
    for one_product in (["Kling", "可灵", "Kling AI", "Kling 2.1"],
                        ["Doubao", "豆包", "豆包大模型"],
                        ["ERNIE Bot", "文心一言", "Wenxin Yiyan"],
                        ["Qwen", "通义千问"],
                        ["Hunyuan", "混元", "Tencent Hunyuan"]):
        assert by_text[one_product[0]] is not None, one_product
        assert {by_text[t] for t in one_product} == {by_text[one_product[0]]}, one_product
    # two products of one maker are never one group
    for a, b in (("UI-TARS", "Doubao"), ("Ling-1T", "Ring-1T"), ("Kling", "Kolors"),
                 ("DeepSeek-R1", "DeepSeek-V3"), ("CogView", "CogVideoX")):
        assert by_text[a] != by_text[b], (a, b)
    assert len(groups(wl)) >= 90


def test_shipped_product_groups_add_metadata_only(tmp_path):
    """Without its `product_groups:` the shipped rules compile to the same matcher tables."""
    for path in RULES.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entity in data.get("entities") or []:
            entity.pop("product_groups", None)
        (tmp_path / path.name).write_text(yaml.safe_dump(data, allow_unicode=True),
                                          encoding="utf-8")
    plain = load_watchlists(tmp_path).tables
    shipped = load_watchlists(RULES).tables
    assert shipped.terms == plain.terms
    assert {k: dataclasses.replace(v, group=None) for k, v in shipped.alias_of.items()} == \
        plain.alias_of
    assert shipped.fuzzy_index == plain.fuzzy_index
