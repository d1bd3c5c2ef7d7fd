"""Compiled watchlists: the entities, lists and matcher tables that matching reads.

Made by `bot.match.rules.load_watchlists` from `rules/*.yaml`; frozen once made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    title_zh: str | None = None  # the title for Chinese readers, when the rules give one


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
    # the product this alias names ("kuaishou/kling" for Kling, 可灵, Kling AI and their
    # spelling variants), from the rules' `product_groups:`; None when no group says. Story
    # clustering reads it to tell one product's names from another product of the maker.
    group: str | None = None


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
