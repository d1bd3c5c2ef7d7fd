"""Items and their hits: what each feed brought, read back with what the matcher found."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Hit
from bot.store.db import Db, chunks, from_ts, marks, ts


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as read back from the store, with its hits."""

    id: int
    feed: str
    title: str
    summary: str
    link: str | None
    published: datetime | None
    first_seen: datetime
    lang: str | None
    backfill: bool = False
    hits: tuple[Hit, ...] = ()
    story_id: int | None = None
    sources: int = 1  # feeds that carried this item's story (filled by Stories.recent)

    @property
    def entities(self) -> list[str]:
        return sorted({h.entity for h in self.hits})

    @property
    def lists(self) -> list[str]:
        return sorted({h.list for h in self.hits if h.list})


class Items:
    """The items and hits tables (written by Intake, in the transaction that alerts)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def get(self, item_id: int) -> StoredItem | None:
        return self.by_ids({item_id}).get(item_id)

    def by_ids(self, ids: set[int]) -> dict[int, StoredItem]:
        if not ids:
            return {}
        rows = self.db.rows(f"SELECT * FROM items WHERE id IN ({marks(ids)})", list(ids))
        return {s.id: s for s in self.with_hits(rows)}

    def since(self, since: datetime) -> list[StoredItem]:
        """Every item first seen at or after `since`, oldest first, with its hits."""
        rows = self.db.rows(
            "SELECT * FROM items WHERE first_seen >= ? ORDER BY first_seen, id", [ts(since)]
        )
        return self.with_hits(rows)

    def with_hits(self, rows: list[dict[str, object]]) -> list[StoredItem]:
        """Item rows as StoredItems, each with its hits (one query for all of them)."""
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        hits: dict[int, list[Hit]] = {}
        for h in self.db.rows(
            f"SELECT * FROM hits WHERE item_id IN ({marks(ids)}) "
            "ORDER BY list, entity, field, start",
            ids,
        ):
            hits.setdefault(h["item_id"], []).append(
                Hit(h["entity"], h["list"], h["alias"], h["field"], h["start"], h["end"],
                    h["score"])
            )
        return [
            StoredItem(
                id=r["id"], feed=r["feed"], title=r["title"], summary=r["summary"],
                link=r["link"], published=from_ts(r["published"]),
                first_seen=from_ts(r["first_seen"]), lang=r["lang"],
                backfill=bool(r["backfill"]), hits=tuple(hits.get(r["id"], ())),
                story_id=r.get("story_id"),
            )  # type: ignore[arg-type]
            for r in rows
        ]


def known_keys(conn: sqlite3.Connection, feed: str, keys: Sequence[str]) -> set[str]:
    """Which of these item keys this feed has already stored (inside the caller's transaction)."""
    known: set[str] = set()
    for chunk in chunks(keys):
        known.update(key for (key,) in conn.execute(
            f"SELECT key FROM items WHERE feed = ? AND key IN ({marks(chunk)})", [feed, *chunk]))
    return known
