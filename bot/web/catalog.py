"""What the rules say, for the web: each watched entity with its names, aliases and lists.

The rules are YAML files, not rows: `newsbot web` reads them once at start, and its SQL
sees them through functions (bot/web/privacy.py registers them on each connection).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.match.watchlists import Watchlists


@dataclass(frozen=True, slots=True)
class WatchedEntity:
    """One entity of the rules, as the Entities page lists it."""

    id: str
    name: str
    zh: str | None
    lists: tuple[str, ...]
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    """The watchlists (id → title) and their entities, in rules order."""

    lists: dict[str, str]
    entities: tuple[WatchedEntity, ...]
    names: dict[str, str] = field(init=False, repr=False, compare=False)  # id → display name

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", {e.id: e.name for e in self.entities})

    def name(self, entity_id: str | None) -> str | None:
        """An entity's display name (the id itself for one the rules no longer have); SQL calls
        it once per row."""
        return self.names.get(entity_id, entity_id) if entity_id is not None else None

    def entities_json(self) -> str:
        """The entities as a JSON array of objects, for SQL's json_each()."""
        return json.dumps([{"id": e.id, "name": e.name, "zh": e.zh, "lists": list(e.lists),
                            "aliases": list(e.aliases)} for e in self.entities],
                          ensure_ascii=False)


def catalog_of(watchlists: Watchlists) -> Catalog:
    """The catalog of compiled watchlists: aliases as written in the rules files."""
    aliases: dict[str, list[str]] = {}
    for spec in watchlists.tables.alias_of.values():
        names = aliases.setdefault(spec.entity, [])
        if spec.text not in names:
            names.append(spec.text)
    lists: dict[str, list[str]] = {}
    for watchlist in watchlists.lists:
        for info in watchlist.entities:
            lists.setdefault(info.id, []).append(watchlist.id)
    entities = tuple(
        WatchedEntity(info.id, info.name, info.zh, tuple(lists.get(info.id, ())),
                      tuple(a for a in aliases.get(info.id, ()) if a not in (info.name, info.zh)))
        for info in watchlists.entities.values())
    return Catalog({w.id: w.title for w in watchlists.lists}, entities)
