"""Reading and validation of watchlist YAML: every mistake as `FILE:LINE: message`.

`RulesReader` turns rules files into plain entities and lists (`EntityRules`, `ListRules`)
and collects every problem it meets, so that `load_watchlists` reports them all at once.
The schema is documented in `rules/README.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import Problem
from bot.match.normalize import fold

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
FILE_KEYS = {"list", "catalogue", "title", "title_zh", "description", "topic", "include",
             "exclude", "yields_to", "entities"}
ENTITY_KEYS = {"id", "name", "zh", "aliases", "products", "product_groups", "context",
               "exclude", "implies_topic", "note"}
REFERENCE_KEYS = {"id", "implies_topic", "note"}
ALIAS_KEYS = {"name", "context", "ambiguous", "exclude", "case_sensitive", "fuzzy"}


@dataclass
class AliasRule:
    text: str
    key: str
    product: bool
    context: list[str]
    ambiguous: bool
    exclude: list[str]
    case_sensitive: bool
    fuzzy: bool
    file: str
    line: int
    # the product this name names, shared by the names of one `product_groups:` entry
    # ("kuaishou/kling" for Kling, 可灵, Kling AI); None: no group says
    group: str | None = None


@dataclass
class EntityRules:
    id: str
    name: str
    zh: list[str]
    aliases: list[AliasRule]
    context: list[str]
    exclude: list[str]
    list_id: str | None
    file: str
    line: int


@dataclass
class ListRules:
    id: str | None  # None for a catalogue file (entities only, no alerts)
    title: str
    title_zh: str | None
    topic: list[str]
    include: list[tuple[str, int]]
    yields_to: list[tuple[str, int]]
    exclude: list[str]
    members: list[tuple[str, int]]  # (entity id, line)
    implied: set[str]
    file: str
    line: int


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class RulesReader:
    """Reads rules files into entities and lists, collecting every problem with its line."""


    def __init__(self, rules_dir: str) -> None:
        self.rules_dir = rules_dir
        self.problems: list[Problem] = []
        self.lists: list[ListRules] = []
        self.entities: dict[str, EntityRules] = {}

    def problem(self, file: str, line: int, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def read_file(self, path: Path) -> None:
        file = str(path)
        try:
            # libyaml is ~10x faster; the pure-Python loader gives the same nodes and marks
            fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=fast)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.problem(file, line, f"YAML syntax: {exc.problem or exc}")
            return
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            self.problem(file, 1, f"cannot read: {exc}")
            return
        if not isinstance(root, yaml.MappingNode):
            self.problem(file, 1, "expected a mapping with `list:`, `title:` and `entities:`")
            return
        top = self.mapping(file, root, FILE_KEYS, "file")
        if "list" in top and "catalogue" in top:
            self.problem(file, _line(top["catalogue"]), "use either `list:` or `catalogue:`")
        if "list" not in top and "catalogue" not in top:
            self.problem(file, 1, "missing `list: <id>` (or `catalogue: <name>`)")
        list_id = self.ident(file, top["list"]) if "list" in top else None
        if "catalogue" in top:
            self.string(file, top["catalogue"])
            for key in ("title", "title_zh", "topic", "include", "exclude", "yields_to"):
                if key in top:
                    self.problem(file, _line(top[key]), f"`{key}` only applies to a `list:`")
        if list_id is not None and "title" not in top:
            self.problem(file, 1, "missing `title:`")
        wl = ListRules(
            id=list_id,
            title=self.string(file, top["title"]) if "title" in top else "",
            title_zh=self.string(file, top["title_zh"]) if "title_zh" in top else None,
            topic=self.strings(file, top.get("topic"), "topic term"),
            include=self.id_refs(file, top.get("include")),
            yields_to=self.id_refs(file, top.get("yields_to")),
            exclude=self.strings(file, top.get("exclude"), "exclusion"),
            members=[],
            implied=set(),
            file=file,
            line=_line(top["list"]) if "list" in top else 1,
        )
        if "description" in top:
            self.string(file, top["description"])
        if "entities" not in top:
            self.problem(file, 1, "missing `entities:`")
        seen: dict[str, int] = {}
        for node in self.seq(file, top.get("entities")):
            self.read_entity(file, node, wl, seen)
        self.lists.append(wl)

    def read_entity(self, file: str, node: yaml.Node, wl: ListRules, seen: dict[str, int]) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(file, _line(node), "an entity is a mapping with at least `id:`")
            return
        keys = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        is_reference = keys <= REFERENCE_KEYS
        m = self.mapping(file, node, REFERENCE_KEYS if is_reference else ENTITY_KEYS, "entity")
        if "id" not in m:
            self.problem(file, _line(node), "entity without `id:`")
            return
        eid = self.ident(file, m["id"])
        if eid is None:
            return
        line = _line(m["id"])
        if eid in seen:
            self.problem(file, line, f"duplicate id {eid!r} (first at line {seen[eid]})")
            return
        seen[eid] = line
        wl.members.append((eid, line))
        if "implies_topic" in m and self.boolean(file, m["implies_topic"]):
            wl.implied.add(eid)
        if "note" in m:
            self.string(file, m["note"])
        if is_reference:
            return
        if "name" not in m:
            self.problem(file, line, f"entity {eid!r}: missing `name:`")
        if eid in self.entities:
            first = self.entities[eid]
            self.problem(file, line, f"entity {eid!r} is already defined at {first.file}:"
                         f"{first.line}; here write only `- id: {eid}` to add it to this list")
            return
        name = self.string(file, m["name"]) if "name" in m else eid
        zh = self.strings(file, m.get("zh"), "Chinese name", allow_scalar=True)
        ent = EntityRules(eid, name, zh, [], self.strings(file, m.get("context"), "context word"),
                      self.strings(file, m.get("exclude"), "exclusion"), wl.id, file, line)
        if "name" in m:  # missing: reported above; keep checking the rest of the entity
            ent.aliases.append(self.plain_alias(file, m["name"], name, False))
        for z, zn in zip(zh, self.seq(file, m.get("zh"), allow_scalar=True)):
            ent.aliases.append(self.plain_alias(file, zn, z, False))
        for key, product in (("aliases", False), ("products", True)):
            for an in self.seq(file, m.get(key)):
                alias = self.read_alias(file, an, ent, product)
                if alias is not None:
                    ent.aliases.append(alias)
        self.read_product_groups(file, m.get("product_groups"), ent)
        self.entities[eid] = ent

    def plain_alias(self, file: str, node: yaml.Node, text: str, product: bool) -> AliasRule:
        return AliasRule(text, fold(text).strip(), product, [], False, [], False, True, file,
                      _line(node))

    def read_alias(self, file: str, node: yaml.Node, ent: EntityRules, product: bool) -> AliasRule | None:
        if isinstance(node, yaml.ScalarNode):
            text = self.string(file, node)
            return self.plain_alias(file, node, text, product) if text is not None else None
        if not isinstance(node, yaml.MappingNode):
            self.problem(file, _line(node), "an alias is a string or a mapping with `name:`")
            return None
        m = self.mapping(file, node, ALIAS_KEYS, "alias")
        if "name" not in m:
            self.problem(file, _line(node), "alias mapping without `name:`")
            return None
        alias = self.plain_alias(file, m["name"], self.string(file, m["name"]) or "", product)
        alias.context = self.strings(file, m.get("context"), "context word")
        alias.ambiguous = bool(alias.context) or (
            "ambiguous" in m and self.boolean(file, m["ambiguous"]))
        if alias.ambiguous and not alias.context and not ent.context:
            self.problem(file, _line(node), f"ambiguous alias {alias.text!r} needs `context:` "
                         f"words (on the alias or on entity {ent.id!r})")
        alias.exclude = self.strings(file, m.get("exclude"), "exclusion")
        alias.case_sensitive = "case_sensitive" in m and self.boolean(file, m["case_sensitive"])
        alias.fuzzy = not ("fuzzy" in m and not self.boolean(file, m["fuzzy"]))
        return alias

    def read_product_groups(self, file: str, node: yaml.Node | None, ent: EntityRules) -> None:
        """Mark the names of each `product_groups:` entry as naming one product.

        Story clustering needs to tell "可灵" = "Kling" (one product, two languages) from
        "Kling" vs "Kolors" (two products of one maker); a flat `products:` list cannot say
        so. A group only labels aliases the entity already has, so it never changes what
        matches. Names are compared folded (`ERNIE-Bot` = `ERNIE Bot`: one alias, so writing
        both in one group is fine), and a name may sit in one group only: a name that named
        two products would tell clustering nothing.
        """
        by_key: dict[str, list[AliasRule]] = {}
        for a in ent.aliases:
            by_key.setdefault(a.key, []).append(a)
        placed: dict[str, tuple[int, int]] = {}  # folded name → (group index, its line)
        for index, group_node in enumerate(self.seq(file, node)):
            names = self.seq(file, group_node)
            if not names and (isinstance(group_node, yaml.SequenceNode)
                              or group_node.tag.endswith(":null")):
                self.problem(file, _line(group_node), "empty product group: list the names "
                             "of one product, e.g. [Kling, 可灵, Kling AI]")
            group_id = None
            for name_node in names:
                text = self.string(file, name_node)
                if text is None:
                    continue
                key = fold(text).strip()
                line = _line(name_node)
                if key not in by_key:
                    self.problem(file, line, f"product group: {text!r} is not a name of entity "
                                 f"{ent.id!r}; list it under `products:` (or `aliases:`) too")
                elif key in placed and placed[key][0] != index:
                    self.problem(file, line, f"product group: {text!r} is already in the group "
                                 f"at line {placed[key][1]}; a name names one product")
                else:
                    placed[key] = (index, _line(group_node))
                    # named by its first name: stable when groups are added or reordered
                    group_id = group_id or f"{ent.id}/{key.replace(' ', '-')}"
                    for a in by_key[key]:
                        a.group = group_id

    # --- typed accessors: each reports its own mistakes and returns a usable value ---

    def mapping(self, file: str, node: yaml.Node, allowed: set[str], what: str
                ) -> dict[str, yaml.Node]:
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(file, _line(k), f"unknown key {key!r} in {what} (allowed: {hint})")
            elif key in out:
                self.problem(file, _line(k), f"duplicate key {key!r}")
            else:
                out[key] = v
        return out

    def seq(self, file: str, node: yaml.Node | None, allow_scalar: bool = False
            ) -> list[yaml.Node]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return []
        if allow_scalar and isinstance(node, yaml.ScalarNode):
            return [node]
        if not isinstance(node, yaml.SequenceNode):
            self.problem(file, _line(node), "expected a list")
            return []
        return list(node.value)

    def string(self, file: str, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")):
            self.problem(file, _line(node), "expected a string")
            return None
        text = str(node.value).strip()
        if not text or not fold(text).strip():
            self.problem(file, _line(node), "empty string (or only punctuation)")
            return None
        return text

    def strings(self, file: str, node: yaml.Node | None, what: str, allow_scalar: bool = False
                ) -> list[str]:
        out = []
        for n in self.seq(file, node, allow_scalar):
            s = self.string(file, n)
            if s is not None:
                out.append(s)
        return out

    def ident(self, file: str, node: yaml.Node) -> str | None:
        value = self.string(file, node)
        if value is not None and not ID_RE.match(value):
            self.problem(file, _line(node), f"id {value!r}: use lowercase letters, digits, _")
            return None
        return value

    def id_refs(self, file: str, node: yaml.Node | None) -> list[tuple[str, int]]:
        return [(s, _line(n)) for n in self.seq(file, node) if (s := self.string(file, n))]

    def boolean(self, file: str, node: yaml.Node) -> bool:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
            return node.value.lower() in ("true", "yes", "on")
        self.problem(file, _line(node), "expected true or false")
        return False

    # --- cross-file checks ---

    def resolve(self) -> None:
        list_ids: dict[str, ListRules] = {}
        for wl in self.lists:
            if wl.id is None:
                continue
            if wl.id in list_ids:
                self.problem(wl.file, wl.line, f"list {wl.id!r} is already defined in "
                             f"{list_ids[wl.id].file}")
            list_ids[wl.id] = wl
        for wl in self.lists:
            for eid, line in wl.members:
                if eid not in self.entities:
                    self.problem(wl.file, line, f"entity {eid!r} is not defined in any rules "
                                 "file (add `name:` and `aliases:` to define it here)")
            for key, refs in (("include", wl.include), ("yields_to", wl.yields_to)):
                for lid, line in refs:
                    if lid not in list_ids or lid == wl.id:
                        self.problem(wl.file, line, f"`{key}`: unknown list {lid!r}")
        owner: dict[str, tuple[str, str, int]] = {}
        for ent in self.entities.values():
            ent.aliases = self.merge_duplicates(ent)
            for a in ent.aliases:
                prev = owner.get(a.key)
                if prev is not None and prev[0] != ent.id:
                    self.problem(a.file, a.line, f"alias {a.text!r} also belongs to entity "
                                 f"{prev[0]!r} ({prev[1]}:{prev[2]}); an alias names one entity")
                elif prev is None:
                    owner[a.key] = (ent.id, a.file, a.line)

    def merge_duplicates(self, ent: EntityRules) -> list[AliasRule]:
        """One alias per folded form: a guarded spelling (mapping) wins over a plain one.

        So `zh: 月之暗面` names the entity while `{name: 月之暗面, context: [...]}` guards it,
        and 騰訊 / 腾讯 fold to one alias.
        """
        merged: dict[str, AliasRule] = {}
        for a in ent.aliases:
            if not a.key:
                self.problem(a.file, a.line, "empty alias")
                continue
            prev = merged.get(a.key)
            if prev is None or (_guarded(a) and not _guarded(prev)):
                merged[a.key] = a
            elif _guarded(a) and _guarded(prev):
                self.problem(a.file, a.line, f"alias {a.text!r} is guarded twice in entity "
                             f"{ent.id!r} (also line {prev.line}); keep one mapping")
            elif a.product and not prev.product:
                prev.product = True
        return list(merged.values())


def _guarded(a: AliasRule) -> bool:
    return bool(a.context or a.ambiguous or a.exclude or a.case_sensitive or not a.fuzzy)
