"""Compilation: validated rules → matcher tables (two Aho-Corasick automata and indexes).

Every alias (and its spelling variants) goes into one automaton keyed by its folded form, so
finding candidates in an item is one scan; context words, topic terms and exclusion phrases
go into a second automaton, scanned only over items in which an alias occurs.
"""

from __future__ import annotations

import re
from typing import Any

import ahocorasick

from bot.match.normalize import WORD_CHARS, fold, fold_keep_case, scan_form
from bot.match.reader import EntityRules, RulesReader
from bot.match.watchlists import (
    FUZZY_LEN_1,
    AliasSpec,
    EntityInfo,
    Tables,
    Watchlist,
    Watchlists,
)


def compile_tables(reader: RulesReader) -> Watchlists:
    """Every alias into one Aho-Corasick automaton, every other term into a second one."""
    terms: dict[str, int] = {}

    def tid(text: str) -> int:
        return terms.setdefault(fold(text).strip(), len(terms))

    members: dict[str | None, list[str]] = {}
    for wl in reader.lists:
        members[wl.id] = [eid for eid, _ in wl.members]
    for wl in reader.lists:  # `include` adds the members of other lists (one level)
        for lid, _ in wl.include:
            members[wl.id] += [e for e in members[lid] if e not in members[wl.id]]
    entity_lists: dict[str, list[str]] = {eid: [] for eid in reader.entities}
    list_excl: dict[str, list[str]] = {eid: [] for eid in reader.entities}
    for wl in reader.lists:
        if wl.id is None:
            continue
        for eid in members[wl.id]:
            entity_lists[eid].append(wl.id)
            list_excl[eid] += wl.exclude

    alias_of: dict[int, AliasSpec] = {}
    patterns: dict[int, list[str]] = {}
    for ent in reader.entities.values():
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
                group=a.group,  # its spelling variants find this spec: one group for all
            )
            alias_of[sid] = spec
            patterns[sid] = [v for v in _spelling_variants(a.text) if v not in terms]
    topic: dict[str, frozenset[int]] = {}
    implied: dict[str, frozenset[str]] = {}
    yields: dict[str, tuple[str, ...]] = {}
    for wl in reader.lists:
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
                or len(key) < FUZZY_LEN_1 or not _alias_fuzzy(reader.entities, spec)):
            continue
        for variant in {key, *_deletions(key)}:
            fuzzy_index.setdefault(variant, []).append((key, sid))

    infos = {e.id: EntityInfo(e.id, e.name, e.zh[0] if e.zh else None)
             for e in reader.entities.values()}
    lists = tuple(
        Watchlist(wl.id, wl.title, tuple(infos[e] for e in members[wl.id]), wl.title_zh)
        for wl in reader.lists if wl.id is not None
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


def _alias_fuzzy(entities: dict[str, EntityRules], spec: AliasSpec) -> bool:
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
