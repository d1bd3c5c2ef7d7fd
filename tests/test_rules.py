from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.match.rules import load_watchlists

RULES = Path(__file__).resolve().parents[1] / "rules"


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Compiled rules are cached in a fresh folder per test, never in the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(folder))
    return folder


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def problems(rules_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_watchlists(rules_dir)
    return [str(p) for p in exc.value.problems]


def test_seeded_rules_load_with_enough_entities():
    wl = load_watchlists(RULES)
    assert wl.list_ids() == ("deepfake", "llm")
    lists = {w.id: w for w in wl.lists}
    assert len(lists["llm"].entities) >= 50
    assert len(lists["deepfake"].entities) >= 40
    assert wl.entity("baidu").zh == "百度"
    assert wl.entity("cac") is not None
    assert wl.entity("nope") is None


def test_simplest_entity_is_id_name_aliases(tmp_path):
    write(tmp_path, "x.yaml", "list: x\ntitle: X\nentities:\n"
          "  - id: acme\n    name: Acme\n    aliases: [Acme AI]\n")
    wl = load_watchlists(tmp_path)
    assert [e.id for e in wl.lists[0].entities] == ["acme"]


def test_every_mistake_is_reported_with_file_and_line(tmp_path):
    write(tmp_path, "x.yaml", """list: x
title: X
colour: red
entities:
  - id: acme
    name: Acme
    aliases: [Acme AI, ""]
  - id: acme
    name: Acme again
  - id: other
    name: Other
    aliases: [acme ai]
    bogus: 1
  - id: ghost
""")
    found = problems(tmp_path)
    f = str(tmp_path / "x.yaml")
    assert f"{f}:3: unknown key 'colour' in file" in found[0]
    assert any(p.startswith(f"{f}:7: empty string") for p in found)
    assert any(p.startswith(f"{f}:8: duplicate id 'acme'") for p in found)
    assert any(p.startswith(f"{f}:13: unknown key 'bogus'") for p in found)
    assert len(found) == 4  # cross-file checks wait until each file is valid


def test_alias_shared_by_two_entities_and_unknown_reference_are_errors(tmp_path):
    write(tmp_path, "a.yaml", "list: a\ntitle: A\nentities:\n"
          "  - id: one\n    name: One\n    aliases: [Spark]\n"
          "  - id: two\n    name: Two\n    aliases: [SPARK]\n"
          "  - id: ghost\n")
    found = problems(tmp_path)
    assert any(":9: alias 'SPARK' also belongs to entity 'one'" in p for p in found)
    assert any(":10: entity 'ghost' is not defined" in p for p in found)


def test_yaml_syntax_error_names_the_line(tmp_path):
    write(tmp_path, "bad.yaml", "list: x\ntitle: X\nentities:\n  - id: a\n    name: [oops\n")
    (p,) = problems(tmp_path)
    assert p.startswith(str(tmp_path / "bad.yaml") + ":") and "YAML syntax" in p


def test_files_starting_with_underscore_or_dot_and_readme_are_skipped(tmp_path):
    write(tmp_path, "x.yaml", "list: x\ntitle: X\nentities:\n  - {id: a, name: A}\n")
    write(tmp_path, "_draft.yaml", "not: [valid")
    write(tmp_path, "README.md", "# hello")
    assert load_watchlists(tmp_path).list_ids() == ("x",)


def test_ambiguous_alias_without_context_is_an_error(tmp_path):
    write(tmp_path, "x.yaml", "list: x\ntitle: X\nentities:\n"
          "  - id: a\n    name: A\n    aliases:\n      - {name: Spark, ambiguous: true}\n")
    (p,) = problems(tmp_path)
    assert ":7: ambiguous alias 'Spark' needs `context:`" in p


SMALL = """list: llm
title: LLMs
entities:
  - id: baidu
    name: Baidu
    aliases: [Ernie Bot]
"""


def test_compiled_rules_are_cached_and_reused_while_unchanged(tmp_path, cache_in_tmp):
    rules = write(tmp_path, "llm.yaml", SMALL)
    first = load_watchlists(rules)
    assert len(list(cache_in_tmp.glob("watchlists-*.pickle"))) == 1
    again = load_watchlists(rules)
    assert again.entity("baidu") == first.entity("baidu")
    assert again.tables.terms == first.tables.terms
    assert load_watchlists(RULES).tables.terms == load_watchlists(RULES, cache=False).tables.terms


def test_any_edit_of_a_rules_file_invalidates_the_cache(tmp_path, cache_in_tmp):
    rules = write(tmp_path, "llm.yaml", SMALL)
    load_watchlists(rules)
    write(tmp_path, "llm.yaml", SMALL.replace("Ernie Bot", "Wenxin"))  # same length, new text
    edited = load_watchlists(rules)
    assert "wenxin" in edited.tables.terms and "ernie bot" not in edited.tables.terms
    write(tmp_path, "other.yaml", "list: more\ntitle: More\nentities:\n"
          "  - {id: tencent, name: Tencent, aliases: [Hunyuan]}\n")
    assert load_watchlists(rules).entity("tencent") is not None  # a new file counts too


def test_invalid_rules_are_reported_even_after_a_valid_version_was_cached(tmp_path):
    rules = write(tmp_path, "llm.yaml", SMALL)
    load_watchlists(rules)
    write(tmp_path, "llm.yaml", SMALL + "    colour: red\n")
    assert any("unknown key 'colour'" in p for p in problems(rules))
    write(tmp_path, "llm.yaml", SMALL)
    assert load_watchlists(rules).entity("baidu") is not None


def test_a_damaged_cache_file_is_rebuilt(tmp_path, cache_in_tmp):
    rules = write(tmp_path, "llm.yaml", SMALL)
    load_watchlists(rules)
    (cached,) = cache_in_tmp.glob("watchlists-*.pickle")
    cached.write_bytes(b"not a pickle")
    assert load_watchlists(rules).entity("baidu") is not None
    assert cached.read_bytes() != b"not a pickle"


def test_an_unwritable_cache_folder_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(blocker / "cache"))
    assert load_watchlists(write(tmp_path, "llm.yaml", SMALL)).entity("baidu") is not None
