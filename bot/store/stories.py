"""Stories: the items that are one story, the index that finds them, and their sources.

The index (`story_keys`) holds integer keys (bot/stories/keys.py) per item; a lookup is one
indexed query for a whole batch of items, bounded per key (BAND_ROWS), never a scan of
stored titles.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.models import Item
from bot.store.db import Db, chunks, epoch, from_ts, marks, ts
from bot.store.items import Items, StoredItem
from bot.stories.keys import (
    HEAD_ROWS,
    WINDOW,
    StoryCandidate,
    StoryKeys,
    exact_index,
    is_head_key,
    item_story_keys,
)

# A story lookup reads at most this many index rows per title band, the most recent (see
# Stories.lookup). A copy of a story shares several bands with it, so a crowded band costs
# little recall: at 10, bench/story_dedup.py still finds the original of every near-copy
# among 100,000 stored items, and its labeled set clusters as well as at 50 (P 0.928 vs
# 0.918, R 0.969 both); a cold cycle whose titles repeat a few templates reads 5x fewer rows.
BAND_ROWS = 10

# an exact key matches at any time: the whole range of stored times
_ALWAYS = (-(1 << 62), 1 << 62)
# Recently placed items remembered with their packed folded titles (~460 bytes each, title
# and feed included; a TitleForm alone is ~1.4 kB), so
# that a lookup need not read them back: the candidates of a lookup are mostly the most
# recent rows of each key (BAND_ROWS), i.e. recent items.
RECENT_FORMS = 4096


@dataclass(frozen=True, slots=True)
class Source:
    """Another outlet that carried the same story."""

    feed: str
    title: str
    link: str | None
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class StoryExport:
    """One story as analysts export it: its first report, every outlet, what it matched."""

    story_id: int
    title: str
    link: str | None
    first_seen: datetime
    published: datetime | None
    sources: tuple[Source, ...]  # one per feed, first report first
    entities: tuple[str, ...]
    lists: tuple[str, ...]


class Stories:
    """The stories and story_keys tables, and the items read as stories."""

    def __init__(self, db: Db, items: Items) -> None:
        self.db = db
        self._items = items
        # item id → (title, feed, packed folded title) of recently placed items (RECENT_FORMS)
        self._recent: OrderedDict[int, tuple[str, str, str | None]] = OrderedDict()

    def remember(self, item_id: int, keys: StoryKeys, feed: str) -> None:
        """A placed item, as a candidate for later lookups (inside the writer's transaction:
        forget() after a rollback, whose item ids will be given again)."""
        recent = self._recent
        recent[item_id] = (keys.title, feed, keys.packed)
        if len(recent) > RECENT_FORMS:
            recent.popitem(last=False)

    def forget(self) -> None:
        """Drop the remembered items (after a rolled-back transaction)."""
        self._recent.clear()

    def find(
        self, keys: StoryKeys, now: datetime, *, window: timedelta = WINDOW, limit: int = 200
    ) -> list[StoryCandidate]:
        """Stored items sharing a key with `keys`: exact keys at any time, bands in the window."""
        with self.db.lock:
            return self.lookup(self.db.conn, [keys], now, window=window, limit=limit)[0]

    def story_of(self, item_id: int) -> int | None:
        """The story a stored item belongs to (None before it was assigned)."""
        rows = self.db.rows("SELECT story_id FROM items WHERE id = ?", [item_id])
        return rows[0]["story_id"] if rows else None  # type: ignore[return-value]

    def items(self, story_id: int) -> list[StoredItem]:
        """A story's items, first seen first: the first is the one alerted, the rest its sources."""
        rows = self.db.rows(
            "SELECT * FROM items WHERE story_id = ? ORDER BY first_seen, id", [story_id]
        )
        return self._items.with_hits(rows)

    def sources(self, story_ids: Sequence[int]) -> dict[int, int]:
        """How many distinct feeds each of these stories was seen in."""
        counts: dict[int, int] = {}
        for chunk in chunks(story_ids):
            for r in self.db.rows(
                f"""SELECT story_id, COUNT(DISTINCT feed) AS n FROM items
                    WHERE story_id IN ({marks(chunk)}) GROUP BY story_id""",
                chunk,
            ):
                counts[r["story_id"]] = r["n"]  # type: ignore[index]
        return counts

    def other_sources(
        self, stories: set[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[Source, ...]]:
        """For each (story, alerted item): the story's other items, one per feed, oldest first."""
        out: dict[tuple[int, int], tuple[Source, ...]] = {}
        for story_id, item_id in stories:
            seen: dict[str, Source] = {}
            for r in self.db.rows(
                """SELECT feed, title, link, lang FROM items WHERE story_id = ? AND id != ?
                   ORDER BY first_seen, id""",
                [story_id, item_id],
            ):
                seen.setdefault(r["feed"], Source(r["feed"], r["title"], r["link"],  # type: ignore[arg-type]
                                                  r["lang"]))  # type: ignore[arg-type]
            out[(story_id, item_id)] = tuple(seen.values())
        return out

    def recent(
        self, n: int = 5, *, list_id: str | None = None, entity: str | None = None
    ) -> list[StoredItem]:
        """Alerted stories, newest first: each story's alerted item, with its source count."""
        where = ["1 = 1"]
        params: list[object] = []
        if list_id:
            where.append("EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id AND h.list = ?)")
            params.append(list_id)
        if entity:
            where.append(
                "EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id AND h.entity = ? "
                "AND h.list != '')"
            )
            params.append(entity)
        rows = self.db.rows(
            f"""SELECT i.* FROM alerts a JOIN items i ON i.id = a.item_id
                WHERE {' AND '.join(where)}
                ORDER BY i.first_seen DESC, COALESCE(i.published, i.first_seen) DESC, i.id DESC
                LIMIT ?""",
            [*params, n],
        )
        items = self._items.with_hits(rows)
        counts = self.sources([i.story_id for i in items if i.story_id is not None])
        return [replace(i, sources=counts.get(i.story_id, 1)) if i.story_id else i
                for i in items]

    def export(self, since: datetime, *, list_id: str | None = None,
               entity: str | None = None) -> list[StoryExport]:
        """Alerted stories first seen since `since`, oldest first, each with its sources
        (one per feed), entities and lists; only those of a list or entity when asked."""
        where, params = ["s.created >= ?"], [ts(since)]
        if list_id:
            where.append("EXISTS (SELECT 1 FROM items x JOIN hits h ON h.item_id = x.id "
                         "WHERE x.story_id = s.id AND h.list = ?)")
            params.append(list_id)
        if entity:
            where.append("EXISTS (SELECT 1 FROM items x JOIN hits h ON h.item_id = x.id "
                         "WHERE x.story_id = s.id AND h.entity = ? AND h.list != '')")
            params.append(entity)
        stories = self.db.rows(
            f"""SELECT s.id, s.created, a.item_id FROM stories s JOIN alerts a ON a.story_id = s.id
                WHERE {' AND '.join(where)} ORDER BY s.created, s.id""", params)
        out = []
        for chunk in chunks([r["id"] for r in stories]):
            members: dict[int, list[dict[str, object]]] = {}
            for r in self.db.rows(
                    f"""SELECT story_id, id, feed, title, link, lang, published, first_seen
                        FROM items WHERE story_id IN ({marks(chunk)})
                        ORDER BY first_seen, id""", chunk):
                members.setdefault(r["story_id"], []).append(r)  # type: ignore[arg-type]
            tags: dict[int, list[tuple[str, str]]] = {}
            for r in self.db.rows(
                    f"""SELECT DISTINCT x.story_id, h.entity, h.list FROM items x
                        JOIN hits h ON h.item_id = x.id
                        WHERE x.story_id IN ({marks(chunk)}) AND h.list != ''""", chunk):
                tags.setdefault(r["story_id"], []).append((r["entity"], r["list"]))  # type: ignore[arg-type]
            for story_id in chunk:
                rows = members.get(story_id, [])
                if not rows:
                    continue
                first = rows[0]
                feeds: dict[str, Source] = {}
                for r in rows:
                    feeds.setdefault(str(r["feed"]), Source(
                        str(r["feed"]), str(r["title"]), r["link"], r["lang"]))  # type: ignore[arg-type]
                out.append(StoryExport(
                    story_id=int(story_id), title=str(first["title"]),
                    link=first["link"],  # type: ignore[arg-type]
                    first_seen=from_ts(first["first_seen"]),  # type: ignore[arg-type]
                    published=from_ts(first["published"]),  # type: ignore[arg-type]
                    sources=tuple(feeds.values()),
                    entities=tuple(sorted({e for e, _ in tags.get(story_id, [])})),
                    lists=tuple(sorted({li for _, li in tags.get(story_id, [])})),
                ))
        return out

    def entity_days(self, since: datetime, until: datetime, *, list_id: str | None = None,
                    entities: Sequence[str] = (), scope: Sequence[str] = (),
                    utc_offset: int = 0) -> list[tuple[str, str, int]]:
        """(entity, day "YYYY-MM-DD", stories) for stories first seen in [since, until):
        a story counts once per entity that any of its items matched in a watchlist.

        `scope`: only hits of these lists or entities (any of them: a chat's follows).
        Days are UTC days, or local days `utc_offset` minutes east of UTC."""
        where = ["s.created >= ?", "s.created < ?", "h.list != ''"]
        params: list[object] = [ts(since), ts(until)]
        if list_id:
            where.append("h.list = ?")
            params.append(list_id)
        if entities:
            where.append(f"h.entity IN ({marks(entities)})")
            params += list(entities)
        if scope:
            where.append(f"(h.list IN ({marks(scope)}) OR h.entity IN ({marks(scope)}))")
            params += [*scope, *scope]
        day = (f"date(s.created, '{int(utc_offset):+d} minutes')" if utc_offset
               else "substr(s.created, 1, 10)")
        # Named entities: their hits (hits_entity) are few, start there. Otherwise start from
        # the period's stories (stories_created): left to itself SQLite walks every hit in
        # entity order for the GROUP BY, 75× slower for a week of a 1M-item store.
        join = "JOIN" if entities else "CROSS JOIN"
        rows = self.db.rows(
            f"""SELECT h.entity AS entity, {day} AS day, COUNT(DISTINCT s.id) AS n
                FROM stories s {join} items i ON i.story_id = s.id
                {join} hits h ON h.item_id = i.id
                WHERE {' AND '.join(where)} GROUP BY h.entity, day ORDER BY day, h.entity""",
            params)
        return [(str(r["entity"]), str(r["day"]), int(r["n"])) for r in rows]  # type: ignore[call-overload]

    def lookup(
        self,
        conn: sqlite3.Connection,
        probes: Sequence[StoryKeys],
        now: datetime,
        *,
        window: timedelta = WINDOW,
        limit: int = 200,
        titles: bool = True,
    ) -> list[list[StoryCandidate]]:
        """Stored items sharing a key with each probe: one indexed query for all of them.

        Exact keys match at any time; a band key matches within `window` of the probe, and
        only its BAND_ROWS most recent rows there: a title shared by thousands of items (a
        series, a template) must not make one lookup read thousands of rows. Per probe,
        exact matches come first, then the items sharing most keys, at most `limit`.
        `titles=False` (the writer, which compares folded forms): a candidate with a stored
        form may come without its title (None).
        """
        wanted: list[tuple[int, int, int, int, int]] = []
        heads: list[tuple[int, int, int, int, int]] = []  # hot keys: fewer rows each
        span = int(window.total_seconds())
        for n, keys in enumerate(probes):
            at = epoch(keys.at or now)
            wanted += [(n, exact_index(key), *_ALWAYS, 1) for key in keys.exact]
            for key in keys.bands:
                (heads if is_head_key(key) else wanted).append((n, key, at - span, at + span, 0))
        found: list[dict[int, list[int]]] = [{} for _ in probes]  # per probe: item id → row
        for batch, rows_per_key in ((wanted, BAND_ROWS), (heads, HEAD_ROWS)):
            if not batch:
                continue
            rows = conn.execute(
                """WITH q (n, key, lo, hi, exact) AS (
                       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
                       FROM json_each(?))
                   SELECT q.n, q.exact, k.at, k.item_id, k.story_id
                   FROM q JOIN story_keys k ON k.key = q.key AND k.at <= q.hi AND k.at >=
                     CASE WHEN q.exact THEN q.lo ELSE COALESCE(
                       (SELECT b.at FROM story_keys b WHERE b.key = q.key
                        AND b.at BETWEEN q.lo AND q.hi ORDER BY b.at DESC LIMIT 1 OFFSET ?),
                       q.lo) END""",
                [json.dumps(batch), rows_per_key - 1],
            ).fetchall()
            for n, exact, at, item_id, story_id in rows:
                seen = found[n].get(item_id)
                if seen is None:
                    found[n][item_id] = [story_id, item_id, exact, at, 1]
                else:
                    seen[2] = max(seen[2], exact)
                    seen[3] = min(seen[3], at)
                    seen[4] += 1
        kept = [sorted(per.values(), key=lambda c: (-c[2], -c[4]))[:limit] for per in found]
        # each distinct candidate's title once, not once per shared key (a near-copy shares
        # ten): remembered if it was placed recently, else read with its folded form
        recent = self._recent
        known: dict[int, tuple[str | None, str, str | None]] = {}
        for item_id in {c[1] for per in kept for c in per}:
            if (hit := recent.get(item_id)) is not None:
                known[item_id] = hit
        known.update(_titles(conn, {c[1] for per in kept for c in per} - known.keys(),
                             titles=titles))
        # one candidate per stored item, shared by the probes that found it (nothing changes
        # it but its lazily read time and numbers): in a template-heavy batch most candidates
        # are found by several of its items
        made: dict[tuple[int, int, int, int], StoryCandidate] = {}
        out: list[list[StoryCandidate]] = []
        for per in kept:
            row = []
            for story_id, item_id, exact, at, _ in per:
                candidate = made.get((story_id, item_id, exact, at))
                if candidate is None:
                    title, feed, packed = known[item_id]
                    candidate = made[story_id, item_id, exact, at] = StoryCandidate(
                        story_id, item_id, title, None, bool(exact), feed, packed, epoch=at)
                row.append(candidate)
            out.append(row)
        return out


def probe(item: Item, keys: StoryKeys | None, now: datetime) -> StoryKeys:
    """An item's story keys, with a time (keyed in a parse worker: first seen is now)."""
    keys = keys or item_story_keys(item, seen=now)
    return keys if keys.at is not None else replace(keys, at=now)


def _titles(conn: sqlite3.Connection, item_ids: set[int], *,
            titles: bool = True) -> dict[int, tuple[str | None, str, str | None]]:
    """Title, feed and packed title form of each of these items (no form: stored before
    title_forms existed). `titles=False`: an item whose form and feed title_forms holds is
    read from there alone, without its title (None)."""
    out: dict[int, tuple[str | None, str, str | None]] = {}
    if not titles:
        for chunk in chunks(sorted(item_ids)):
            out.update((i, (None, feed, form)) for i, feed, form in conn.execute(
                f"""SELECT item_id, feed, form FROM title_forms
                    WHERE item_id IN ({marks(chunk)}) AND feed IS NOT NULL""", chunk))
        item_ids = item_ids - out.keys()  # stored before m015 (no form) or m016 (no feed)
    for chunk in chunks(sorted(item_ids)):
        out.update((i, (title, feed, form)) for i, title, feed, form in conn.execute(
            f"""SELECT i.id, i.title, i.feed, f.form FROM items i
                LEFT JOIN title_forms f ON f.item_id = i.id
                WHERE i.id IN ({marks(chunk)})""", chunk))
    return out


class Batch:
    """The items of one record_items batch so far, as story candidates for its later items
    (they are not in story_keys yet when the batch's lookup runs)."""

    def __init__(self, window: timedelta = WINDOW) -> None:
        self._window = window
        self._by_key: dict[str, list[StoryCandidate]] = {}

    def candidates(self, keys: StoryKeys) -> list[StoryCandidate]:
        """Earlier items of the batch sharing an exact key, or a band key within the window."""
        found: dict[int, StoryCandidate] = {}
        for key in keys.exact:
            for c in self._by_key.get(key, ()):
                found[c.item_id] = c.as_exact()
        for key in keys.bands:
            for c in self._by_key.get(key, ()):
                if c.at is None or keys.at is None or abs(c.at - keys.at) <= self._window:
                    found.setdefault(c.item_id, c)
        return list(found.values())

    def add(self, keys: StoryKeys, item_id: int, story_id: int, title: str, feed: str) -> None:
        """Remember a placed item under each of its keys."""
        candidate = StoryCandidate(story_id=story_id, item_id=item_id, title=title, at=keys.at,
                                   exact=False, feed=feed, packed=keys.packed)
        for key in (*keys.exact, *keys.bands):
            self._by_key.setdefault(key, []).append(candidate)
