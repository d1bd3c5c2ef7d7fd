from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.rules import load_watchlists

RULES = Path(__file__).resolve().parents[1] / "rules"


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
