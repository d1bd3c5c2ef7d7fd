"""Watchlist YAML (`rules/*.yaml`) → validated, compiled matcher tables.

`load_watchlists(dir)` reads every rules file, reports every mistake as a `Problem`
(`FILE:LINE: message`) inside one `ConfigError`, and only returns when everything is valid:
nothing half-loaded is ever used. The schema is documented in `rules/README.md`.

Compilation puts every alias into one Aho-Corasick automaton (keyed by its folded form), so
finding candidates in an item is one scan; context words, topic terms and exclusion phrases go
into a second automaton, scanned only over items in which an alias occurs.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ahocorasick

if TYPE_CHECKING:
    import yaml

from bot.cache import cache_dir, load_cached, store_cached
from bot.errors import ConfigError, Problem
from bot.match.normalize import WORD_CHARS, fold, fold_keep_case, scan_form

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
FILE_KEYS = {"list", "catalogue", "title", "description", "topic", "include", "exclude",
             "yields_to", "entities"}
ENTITY_KEYS = {"id", "name", "zh", "aliases", "products", "context", "exclude",
               "implies_topic", "note"}
REFERENCE_KEYS = {"id", "implies_topic", "note"}
ALIAS_KEYS = {"name", "context", "ambiguous", "exclude", "case_sensitive", "fuzzy"}

# Typo tolerance: a Latin alias of at least this many letters may match a token at a
# Levenshtein distance of 1; from FUZZY_LEN_2 letters, 2. Shorter aliases collide with real
# words too easily ("Xiaomi"/"Xiaomei").
FUZZY_LEN_1 = 7
FUZZY_LEN_2 = 11


@dataclass(frozen=True)
class EntityInfo:
    """Display names of one watched entity."""

    id: str
    name: str
    zh: str | None = None


@dataclass(frozen=True)
class Watchlist:
    """One list of entities that subscribers follow (e.g. `llm`)."""

    id: str
    title: str
    entities: tuple[EntityInfo, ...]


@dataclass(frozen=True)
class AliasSpec:
    """One compiled alias: how it identifies its entity and what guards it."""

    entity: str
    text: str  # as written in the rules file
    product: bool
    implies: tuple[str, ...]  # lists whose topic this alias satisfies by itself
    context: tuple[int, ...]  # term ids; non-empty means ambiguous
    exclude: tuple[int, ...]  # term ids of exclusion phrases
    case_form: str | None  # folded-but-cased form, when the alias is case-sensitive


@dataclass(frozen=True)
class Tables:
    """Compiled matcher tables. `terms[i]` is the folded text of term id i."""

    # Aliases (with their spelling variants) only: every item is scanned with this one, so
    # context words, topic terms and exclusions that occur in ordinary prose ("AI", "model",
    # "公司") live in `term_automaton`, scanned only for items in which an alias occurs.
    automaton: Any  # None when empty (so is term_automaton)
    term_automaton: Any
    # ambiguous aliases all of whose context words are aliases too: when nothing else occurs,
    # the alias scan alone tells that they stay unconfirmed
    context_in_aliases: frozenset[int]
    terms: tuple[str, ...]
    alias_of: dict[int, AliasSpec]
    entity_lists: dict[str, tuple[str, ...]]
    list_topic: dict[str, frozenset[int]]
    topic_of: dict[int, tuple[str, ...]]  # term id → lists it is a topic term of
    list_implied_by: dict[str, frozenset[str]]
    list_yields_to: dict[str, tuple[str, ...]]
    fuzzy_index: dict[str, tuple[tuple[str, int], ...]]
    # token → (term id, score) or None; filled lazily by the matcher (a cache, not state)
    fuzzy_memo: dict[str, tuple[int, float]] = field(default_factory=dict)
    fuzzy_misses: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Watchlists:
    """Every watchlist and entity of `rules/`, validated and compiled."""

    lists: tuple[Watchlist, ...]
    entities: dict[str, EntityInfo]
    tables: Tables

    def entity(self, entity_id: str) -> EntityInfo | None:
        """Return the entity with that id, or None."""
        return self.entities.get(entity_id)

    def list_ids(self) -> tuple[str, ...]:
        """Return the list ids in file order."""
        return tuple(w.id for w in self.lists)


def load_watchlists(rules_dir: Path, *, cache: bool = True) -> Watchlists:
    """Read, validate and compile every `rules_dir/*.yaml`; raise ConfigError listing all problems.

    With `cache`, the compiled result of valid rules is kept in a pickle (see `bot.cache`)
    named by a hash of every rules file's name and bytes, of this code and of the Python
    version: any edit makes a new key, so a stale table is never used; invalid rules are
    never cached, so their problems are always reported.
    """
    files = sorted(
        p for p in Path(rules_dir).glob("*.yaml") if not p.name.startswith(("_", "."))
    )
    if not cache or not files:
        return _load(rules_dir, files)
    try:
        path = _cache_path(rules_dir, files)
    except OSError:  # a file vanished or cannot be read: the full load reports it
        return _load(rules_dir, files)
    cached = load_cached(path, Watchlists)
    if isinstance(cached, Watchlists):
        return cached
    watchlists = _load(rules_dir, files)
    store_cached(path, watchlists, keep=_CACHE_KEEP)
    return watchlists


_CACHE_KEEP = 8  # compiled tables kept per cache dir (one per rules version in use)


def _cache_path(rules_dir: Path, files: list[Path]) -> Path:
    digest = hashlib.sha256(f"v1 {sys.version} {ahocorasick.__dict__.get('__version__')}"
                            .encode())
    here = Path(__file__).resolve().parent
    for code in (here / "rules.py", here / "normalize.py"):
        digest.update(code.read_bytes())
    digest.update(_opencc_stamp().encode())
    lib = Path(getattr(ahocorasick, "__file__", None) or sys.executable).stat()
    digest.update(f"{lib.st_size} {lib.st_mtime_ns}".encode())  # the automaton's pickle format
    for path in files:
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return cache_dir() / f"watchlists-{digest.hexdigest()[:32]}.pickle"


def _opencc_stamp() -> str:
    """Size and mtime of OpenCC's character table (found without importing OpenCC)."""
    import importlib.util

    spec = importlib.util.find_spec("opencc")
    if spec is None or spec.origin is None:
        return "no-opencc"
    st = (Path(spec.origin).parent / "dictionary" / "TSCharacters.txt").stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _load(rules_dir: Path, files: list[Path]) -> Watchlists:
    # PyYAML costs ~35 ms to import; a run that finds its tables in the cache never needs it
    global yaml
    import yaml

    loader = _RulesReader(str(rules_dir))
    for path in files:
        loader.read_file(path)
    if not files:
        loader.problem(str(rules_dir), 1, "no watchlist files (*.yaml) found")
    if not loader.problems:
        loader.resolve()
    if loader.problems:
        raise ConfigError(loader.problems)
    return loader.compile()


# --------------------------------------------------------------------------------------------
# Reading and validation


@dataclass
class _Alias:
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


@dataclass
class _Entity:
    id: str
    name: str
    zh: list[str]
    aliases: list[_Alias]
    context: list[str]
    exclude: list[str]
    list_id: str | None
    file: str
    line: int


@dataclass
class _List:
    id: str | None  # None for a catalogue file (entities only, no alerts)
    title: str
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


class _RulesReader:
    def __init__(self, rules_dir: str) -> None:
        self.rules_dir = rules_dir
        self.problems: list[Problem] = []
        self.lists: list[_List] = []
        self.entities: dict[str, _Entity] = {}

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
            for key in ("title", "topic", "include", "exclude", "yields_to"):
                if key in top:
                    self.problem(file, _line(top[key]), f"`{key}` only applies to a `list:`")
        if list_id is not None and "title" not in top:
            self.problem(file, 1, "missing `title:`")
        wl = _List(
            id=list_id,
            title=self.string(file, top["title"]) if "title" in top else "",
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

    def read_entity(self, file: str, node: yaml.Node, wl: _List, seen: dict[str, int]) -> None:
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
        ent = _Entity(eid, name, zh, [], self.strings(file, m.get("context"), "context word"),
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
        self.entities[eid] = ent

    def plain_alias(self, file: str, node: yaml.Node, text: str, product: bool) -> _Alias:
        return _Alias(text, fold(text).strip(), product, [], False, [], False, True, file,
                      _line(node))

    def read_alias(self, file: str, node: yaml.Node, ent: _Entity, product: bool) -> _Alias | None:
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
        list_ids: dict[str, _List] = {}
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

    def merge_duplicates(self, ent: _Entity) -> list[_Alias]:
        """One alias per folded form: a guarded spelling (mapping) wins over a plain one.

        So `zh: 月之暗面` names the entity while `{name: 月之暗面, context: [...]}` guards it,
        and 騰訊 / 腾讯 fold to one alias.
        """
        merged: dict[str, _Alias] = {}
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

    # --- compilation ---

    def compile(self) -> Watchlists:
        terms: dict[str, int] = {}

        def tid(text: str) -> int:
            return terms.setdefault(fold(text).strip(), len(terms))

        members: dict[str | None, list[str]] = {}
        for wl in self.lists:
            members[wl.id] = [eid for eid, _ in wl.members]
        for wl in self.lists:  # `include` adds the members of other lists (one level)
            for lid, _ in wl.include:
                members[wl.id] += [e for e in members[lid] if e not in members[wl.id]]
        entity_lists: dict[str, list[str]] = {eid: [] for eid in self.entities}
        list_excl: dict[str, list[str]] = {eid: [] for eid in self.entities}
        for wl in self.lists:
            if wl.id is None:
                continue
            for eid in members[wl.id]:
                entity_lists[eid].append(wl.id)
                list_excl[eid] += wl.exclude

        alias_of: dict[int, AliasSpec] = {}
        patterns: dict[int, list[str]] = {}
        for ent in self.entities.values():
            for a in ent.aliases:
                sid = tid(a.text)
                context = a.context or (ent.context if a.ambiguous else [])
                spec = AliasSpec(
                    entity=ent.id,
                    text=a.text,
                    product=a.product,
                    implies=(ent.list_id,) if a.product and ent.list_id else (),
                    context=tuple(tid(c) for c in context),
                    exclude=tuple(tid(x) for x in a.exclude + ent.exclude + list_excl[ent.id]),
                    case_form=fold_keep_case(a.text).strip() if a.case_sensitive else None,
                )
                alias_of[sid] = spec
                patterns[sid] = [v for v in _spelling_variants(a.text) if v not in terms]
        topic: dict[str, frozenset[int]] = {}
        implied: dict[str, frozenset[str]] = {}
        yields: dict[str, tuple[str, ...]] = {}
        for wl in self.lists:
            if wl.id is not None:
                topic[wl.id] = frozenset(tid(t) for t in wl.topic)
                implied[wl.id] = frozenset(wl.implied)
                yields[wl.id] = tuple(lid for lid, _ in wl.yields_to)

        automaton = ahocorasick.Automaton()
        context_in_aliases: set[int] = set()
        term_list = [""] * len(terms)
        extra: list[tuple[str, int]] = []
        for key, sid in terms.items():
            term_list[sid] = key
            extra += [(v, sid) for v in patterns.get(sid, [])]
            if sid not in alias_of and key[-1] in WORD_CHARS and key[-1].isalpha():
                extra.append((key + "s", sid))  # context/topic words also match their plural
        # exact keys first, so a generated variant never shadows a term someone wrote
        term_automaton = ahocorasick.Automaton()
        added: set[str] = set()
        for form, sid in [(k, s) for k, s in terms.items()] + extra:
            if form not in added:
                added.add(form)
                target = automaton if sid in alias_of else term_automaton
                key = scan_form(form)  # the byte spelling texts are scanned in
                target.add_word(key, (sid, len(key), form[0] in WORD_CHARS,
                                      form[-1] in WORD_CHARS, form[-1].isalpha(),
                                      sid in alias_of))
        # an empty automaton cannot scan: None stands for "nothing to find"
        automaton = _finished(automaton)
        term_automaton = _finished(term_automaton)
        alias_terms = alias_of.keys()
        for sid, spec in alias_of.items():
            if spec.context and all(c in alias_terms for c in spec.context):
                context_in_aliases.add(sid)

        fuzzy_index: dict[str, list[tuple[str, int]]] = {}
        for sid, spec in alias_of.items():
            key = term_list[sid]
            if (spec.context or spec.case_form or not key.isascii() or not key.isalpha()
                    or len(key) < FUZZY_LEN_1 or not _alias_fuzzy(self.entities, spec)):
                continue
            for variant in {key, *_deletions(key)}:
                fuzzy_index.setdefault(variant, []).append((key, sid))

        infos = {e.id: EntityInfo(e.id, e.name, e.zh[0] if e.zh else None)
                 for e in self.entities.values()}
        lists = tuple(
            Watchlist(wl.id, wl.title, tuple(infos[e] for e in members[wl.id]))
            for wl in self.lists if wl.id is not None
        )
        tables = Tables(
            automaton=automaton,
            term_automaton=term_automaton,
            context_in_aliases=frozenset(context_in_aliases),
            terms=tuple(term_list),
            alias_of=alias_of,
            entity_lists={k: tuple(v) for k, v in entity_lists.items()},
            list_topic=topic,
            topic_of={sid: tuple(li for li, ts in topic.items() if sid in ts)
                      for ts in topic.values() for sid in ts},
            list_implied_by=implied,
            list_yields_to=yields,
            fuzzy_index={k: tuple(v) for k, v in fuzzy_index.items()},
        )
        return Watchlists(lists=lists, entities=infos, tables=tables)


def _finished(automaton: Any) -> Any:
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def _guarded(a: _Alias) -> bool:
    return bool(a.context or a.ambiguous or a.exclude or a.case_sensitive or not a.fuzzy)


def _alias_fuzzy(entities: dict[str, _Entity], spec: AliasSpec) -> bool:
    for a in entities[spec.entity].aliases:
        if a.text == spec.text:
            return a.fuzzy
    return True


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z]{2})")


def _spelling_variants(text: str) -> list[str]:
    """Extra exact spellings of a Latin alias: 'SenseTime' → 'sense time', 'Zhipu AI' → 'zhipuai'."""
    out = set()
    split = _CAMEL.sub(" ", text)
    if split != text and all(len(w) >= 3 for w in split.split()):
        out.add(fold(split).strip())
    key = fold(text).strip()
    if " " in key and all(w.isascii() and w.isalnum() for w in key.split()):
        out.add(key.replace(" ", ""))
    out.discard(key)
    return sorted(out)
