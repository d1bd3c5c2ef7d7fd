"""Full-text search over titles and summaries (SQLite FTS5), Chinese words included.

FTS5's tokenizers split Chinese text into whole runs or single characters: a run is a word
no query matches, a trigram index cannot find the two-character names most Chinese
companies have (智谱, 百度, 商汤), and a character index matches 百 and 度 anywhere apart.
So the index is not of the raw text: every text is folded like
the matcher folds it (width, case, traditional → simplified, punctuation) and each run of
CJK characters is written as its character bigrams ("智谱发布" → "智谱 谱发 发布"); a query's
CJK word becomes the phrase of its bigrams, which matches exactly the texts containing it.
Latin words are words. sqlite-utils' `enable_fts` indexes columns as they are, which is
why this table is ours: contentless (the items table holds the text), rowid = item id,
written in the transaction that writes the item.

A query: words (all must occur), `"a phrase"`, and filters `entity:ID`, `list:ID`,
`since:30d` (also `12h`, `2w`). Results: one item per story, best ranked (bm25) first,
newest first among equals.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import NewsbotError
from bot.match.normalize import fold
from bot.messages import N_
from bot.store.db import Db, ts
from bot.store.items import Items, StoredItem

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_SINCE = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
# Rows asked of the index per wanted result: several items of one story collapse into one.
_OVERFETCH = 5


class SearchError(NewsbotError):
    """A query that cannot be run (a bad filter, nothing to search for).

    Its message is a template marked for the catalog, so a chat reads it in its language:
    `exc.translated(tr._)`."""

    def __init__(self, template: str, **fields: object) -> None:
        self.template = template
        self.fields = fields
        super().__init__(template.format(**fields))

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message through a translator's gettext."""
        return gettext(self.template).format(**self.fields)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: the FTS5 MATCH expression and the filters."""

    match: str
    entity: str | None = None
    list_id: str | None = None
    since: timedelta | None = None


def index_text(text: str) -> str:
    """Text as the index stores it: folded, each CJK run as its character bigrams."""
    return _CJK_RUN.sub(lambda m: f" {_bigrams(m.group())} ", fold(text or ""))


def _bigrams(run: str) -> str:
    if len(run) == 1:
        return run
    return " ".join(run[i : i + 2] for i in range(len(run) - 1))


def parse_query(text: str) -> Query:
    """`words "a phrase" entity:zhipu list:llm since:30d` → Query; SearchError when bad."""
    phrases: list[str] = []
    entity = list_id = None
    since = None
    for m in _TERM.finditer(text):
        quoted, word = m.group(1), m.group(2)
        if word and ":" in word and word.split(":", 1)[0].lower() in ("entity", "list", "since"):
            key, value = word.split(":", 1)
            key = key.lower()
            if not value:
                raise SearchError(N_("{key}: needs a value, e.g. {key}:{example}"), key=key,
                                  example=_EXAMPLE[key])
            if key == "entity":
                entity = value.lower()
            elif key == "list":
                list_id = value.lower()
            else:
                since = _parse_since(value)
            continue
        phrase = _phrase(quoted if quoted is not None else word or "")
        if phrase:
            phrases.append(phrase)
    if not phrases and entity is None and list_id is None:
        raise SearchError(N_('nothing to search for, e.g. 智谱 GLM, "open source", entity:zhipu'))
    return Query(" AND ".join(phrases), entity, list_id, since)


_EXAMPLE = {"entity": "zhipu", "list": "llm", "since": "30d"}


def _parse_since(value: str) -> timedelta:
    m = _SINCE.match(value.lower())
    if m is None:
        raise SearchError(N_("since:{value} is not a period; write since:30d, since:12h or "
                             "since:2w"), value=value)
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def _phrase(text: str) -> str:
    """One query term or phrase as an FTS5 phrase of indexed tokens ("" when none)."""
    tokens = index_text(text).split()
    if not tokens:
        return ""
    return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'


class Search:
    """The items_fts index: written with the items, read by /search and `newsbot search`."""

    def __init__(self, db: Db, items: Items) -> None:
        self.db = db
        self._items = items

    def find(self, text: str, n: int = 10, *, now: datetime | None = None) -> list[StoredItem]:
        """The best matching stored items for a query, one per story, at most `n`."""
        query = parse_query(text)
        where: list[str] = []
        params: list[object] = []
        if query.entity:
            where.append("EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id AND h.entity = ?"
                         " AND h.list != '')")
            params.append(query.entity)
        if query.list_id:
            where.append("EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id AND h.list = ?)")
            params.append(query.list_id)
        since = None
        if query.since is not None:
            if now is None:
                raise SearchError(N_("since: needs the current time"))  # a caller's mistake
            since = ts(now - query.since)
            where.append("i.first_seen >= ?")
            params.append(since)
        if query.match and not (query.entity or query.list_id):
            # The common case, words (and a period): FTS5 ranks its own matches and only the
            # best few are joined with items. Item ids grow with time, so a period is also a
            # rowid range the index skips to.
            inner = "SELECT rowid, rank FROM items_fts WHERE items_fts MATCH ?"
            inner_params: list[object] = [query.match]
            if query.since is not None:
                first = self._first_id_since(since)
                inner += " AND rowid >= ?"
                inner_params.append(first)
            sql = (f"""SELECT i.* FROM ({inner} ORDER BY rank LIMIT ?) f
                       JOIN items i ON i.id = f.rowid {'WHERE ' + where[0] if where else ''}
                       ORDER BY f.rank, i.first_seen DESC, i.id DESC LIMIT ?""")
            params = [*inner_params, n * _OVERFETCH, *params]
        elif query.match:
            sql = (f"""SELECT i.* FROM items_fts f JOIN items i ON i.id = f.rowid
                       WHERE items_fts MATCH ? {''.join(' AND ' + w for w in where)}
                       ORDER BY f.rank, i.first_seen DESC, i.id DESC LIMIT ?""")
            params.insert(0, query.match)
        else:
            sql = (f"SELECT i.* FROM items i WHERE {' AND '.join(where)} "
                   "ORDER BY i.first_seen DESC, i.id DESC LIMIT ?")
        try:
            rows = self.db.rows(sql, [*params, n * _OVERFETCH])
        except sqlite3.OperationalError as exc:  # an FTS5 syntax the phrases did not prevent
            raise SearchError(N_("cannot search for {text}: {error}"), text=repr(text),
                              error=str(exc)) from exc
        return _one_per_story(self._items.with_hits(rows), n)

    def _first_id_since(self, since: object) -> int:
        """The first item id seen at or after `since` (ids grow with first_seen)."""
        row = self.db.rows(
            """SELECT MIN(id) AS id FROM (
                 SELECT id FROM (SELECT id FROM items WHERE matched = 0 AND first_seen >= ?
                                 ORDER BY first_seen LIMIT 1)
                 UNION ALL
                 SELECT id FROM (SELECT id FROM items WHERE matched = 1 AND first_seen >= ?
                                 ORDER BY first_seen LIMIT 1))""", [since, since])
        first = row[0]["id"]
        return int(first) if first is not None else 1 << 62  # nothing that recent


def _one_per_story(items: Iterable[StoredItem], n: int) -> list[StoredItem]:
    seen: set[int] = set()
    out = []
    for item in items:
        story = item.story_id if item.story_id is not None else -item.id
        if story in seen:
            continue
        seen.add(story)
        out.append(item)
        if len(out) == n:
            break
    return out


def index_rows(rows: Sequence[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """(item id, title, summary) → the rows items_fts stores for them."""
    return [(item_id, index_text(title), index_text(summary)) for item_id, title, summary in rows]
