"""Filings: the CAC registry's batches and filings, their watched filers, and batch alerts.

`Filings.record` writes a filing list in ONE transaction: the batch, each filing once (by
filing number, else filer + algorithm: a re-published or corrected list updates rows, never
adds them), the entities each filer's name names, the batch alert for every chat that wants
it (an outbox text row), the record of what each chat was queued, and the source's fetch
outcome when it was polled. Whatever crashes, a filing and its alert commit together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.match.normalize import fold
from bot.models import FILING_LISTS, Filing, Hit
from bot.store.db import Db, chunks, from_ts, marks, ts
from bot.store.feeds import FetchRecord, write_fetch
from bot.store.outbox import queue_texts
from bot.store.subscribers import Subscriber, Subscribers


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A list as its source describes it: kind, batch label (第15批), date, where from."""

    kind: str
    label: str
    source: str
    date: str | None = None  # ISO: 2025-11-06 or 2025-11
    title: str | None = None


@dataclass(frozen=True, slots=True)
class MatchedFiling:
    """A filing to record and the watched entities its filer's name names."""

    filing: Filing
    hits: Sequence[Hit] = ()


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch as stored, with its totals (filings, distinct filers)."""

    id: int
    kind: str
    label: str
    date: str | None
    title: str | None
    source: str
    first_seen: datetime
    filings: int = 0
    filers: int = 0


@dataclass(frozen=True, slots=True)
class StoredFiling:
    """A filing as stored, with its batch and the entities its filer names."""

    id: int
    kind: str
    batch: str
    date: str | None
    filer: str
    algorithm: str
    role: str
    product: str
    purpose: str
    number: str | None
    note: str
    entities: tuple[str, ...]
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class BatchNews:
    """What one chat is told of a batch: its new filings that the chat wants (the watched
    filers among them are the alert's lines), how many filings are new in all, the totals."""

    batch: StoredBatch
    filings: tuple[StoredFiling, ...]
    new: int
    first: bool  # the batch itself is new (else: a longer version of a batch seen before)


@dataclass(frozen=True, slots=True)
class FilingOutcome:
    """What recording a list did."""

    batch: StoredBatch
    new: int
    updated: int
    unchanged: int
    queued: int  # chats a batch alert was queued for
    watched: tuple[tuple[str, int], ...] = ()  # (entity, new filings) of watched filers


# A batch alert's Telegram HTML, from what the chat is told (bot/render/filings.py).
# A batch alert for a chat: its news and the chat's language (None: never said, English)
Compose = Callable[[BatchNews, str | None], str]
_FIELDS = ("number", "algorithm", "role", "filer", "product", "purpose", "note")


def filing_identity(filing: Filing) -> str:
    """A filing's key across lists: its filing number, else its filer and algorithm (folded:
    width, case, traditional characters and spaces do not make another filing)."""
    if filing.number:
        return "no:" + "".join(fold(filing.number).split())
    return _by_names(filing)


def _by_names(filing: Filing) -> str:
    return "fa:" + " ".join(fold(filing.filer).split()) + "|" + " ".join(
        fold(filing.algorithm).split())


def wanted_filings(chat: Subscriber, filings: Sequence[StoredFiling],
                   list_id: str) -> list[StoredFiling]:
    """The filings a chat is told of: all of them for a chat that follows everything or the
    kind's list, else those whose filer is an entity it follows; never a filer it has muted
    (the alert buttons), as with news alerts."""
    if chat.muted:
        filings = [f for f in filings if not chat.muted.intersection(f.entities)]
    if not chat.follows or list_id in chat.follows:
        return list(filings)
    follows = set(chat.follows)
    return [f for f in filings if follows.intersection(f.entities)]


class Filings:
    """The filing_batches, filings, filing_hits and filing_alerts tables."""

    def __init__(self, db: Db, subscribers: Subscribers) -> None:
        self.db = db
        self._subscribers = subscribers

    def record(self, info: BatchInfo, filings: Sequence[MatchedFiling], now: datetime, *,
               alert: bool, compose: Compose | None = None,
               fetch: FetchRecord | None = None) -> FilingOutcome:
        """Store a filing list; with `alert`, queue the batch alert of its new filings to
        every chat that wants them (one message per chat). All in one transaction, with the
        source's fetch outcome when given. Without `alert` (backfill) nothing is queued."""
        unique: dict[str, MatchedFiling] = {}
        for m in filings:
            unique.setdefault(filing_identity(m.filing), m)
        stamp = ts(now)
        with self.db.tx() as conn:
            batch_id, batch_new = _upsert_batch(conn, info, stamp)
            # a filing listed first without its number is the same filing once numbered
            known = _known(conn, [*unique, *(_by_names(m.filing) for m in unique.values())])
            new_ids: list[int] = []
            watched: dict[str, int] = {}
            updated = unchanged = 0
            for identity, m in unique.items():
                f = m.filing
                values = (f.number or None, f.algorithm, f.role, f.filer, f.product, f.purpose,
                          f.note)
                old = known.get(identity)
                unnumbered = known.get(_by_names(f)) if old is None and f.number else None
                if unnumbered is not None and unnumbered[1][0] is None:
                    old = known.pop(_by_names(f))  # claimed once: by the first number only
                    conn.execute("UPDATE filings SET identity = ? WHERE id = ?",
                                 [identity, unnumbered[0]])
                if old is None:
                    filing_id = conn.execute(
                        """INSERT INTO filings (identity, kind, batch_id, number, algorithm, role,
                           filer, product, purpose, note, first_seen, updated)
                           VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
                        [identity, info.kind, batch_id, *values, stamp, stamp]).fetchone()[0]
                    new_ids.append(filing_id)
                    for entity in dict.fromkeys(h.entity for h in m.hits):
                        watched[entity] = watched.get(entity, 0) + 1
                else:
                    filing_id, stored = old
                    if stored == values:
                        unchanged += 1
                    else:  # a corrected list: the row changes, its first batch stays
                        updated += 1
                        conn.execute(
                            f"UPDATE filings SET {', '.join(f'{k} = ?' for k in _FIELDS)}, "
                            "updated = ? WHERE id = ?", [*values, stamp, filing_id])
                _write_hits(conn, filing_id, m.hits)
            batch = self._batch(conn, batch_id)
            queued = 0
            if alert and new_ids and compose is not None:
                queued = self._queue_alerts(conn, batch, new_ids, batch_new, compose, now)
            if fetch is not None:
                write_fetch(conn, fetch)
        return FilingOutcome(batch, len(new_ids), updated, unchanged, queued,
                             tuple(sorted(watched.items(), key=lambda kv: (-kv[1], kv[0]))))

    def _queue_alerts(self, conn: sqlite3.Connection, batch: StoredBatch, new_ids: list[int],
                      batch_new: bool, compose: Compose, now: datetime) -> int:
        """One batch alert per chat that wants some of the new filings, and the record of it.
        A chat is never told twice of a filing: only ids past its record count."""
        fresh = self._by_ids(conn, new_ids)
        list_id = FILING_LISTS.get(batch.kind, "")
        through = dict(conn.execute(
            "SELECT chat_id, through_id FROM filing_alerts WHERE batch_id = ?", [batch.id]))
        # chats told the same filings in the same language get one rendering
        texts: dict[tuple[object, ...], str] = {}
        messages: list[tuple[int, str]] = []
        records = []
        for chat in self._subscribers.active(now):
            unseen = [f for f in fresh if f.id > through.get(chat.chat_id, 0)]
            told = wanted_filings(chat, unseen, list_id)
            if not told:
                continue
            key = (chat.lang, *(f.id for f in told))
            if key not in texts:
                texts[key] = compose(BatchNews(batch, tuple(told), len(fresh), batch_new),
                                     chat.lang)
            messages.append((chat.chat_id, texts[key]))
            records.append((batch.id, chat.chat_id, max(f.id for f in unseen), ts(now)))
        queue_texts(conn, messages, now)
        conn.executemany(
            """INSERT INTO filing_alerts (batch_id, chat_id, through_id, messages, updated)
               VALUES (?,?,?,1,?) ON CONFLICT (batch_id, chat_id) DO UPDATE SET
               through_id = MAX(through_id, excluded.through_id), messages = messages + 1,
               updated = excluded.updated""", records)
        return len(messages)

    # ------------------------------------------------------------------------ reading

    def latest_batch(self, kind: str | None = None) -> StoredBatch | None:
        """The newest batch (by its date, else when it was first seen), of a kind or any."""
        rows = self.db.rows(
            f"""SELECT id FROM filing_batches {'WHERE kind = ?' if kind else ''}
                ORDER BY COALESCE(date, substr(first_seen, 1, 10)) DESC, id DESC LIMIT 1""",
            [kind] if kind else [])
        if not rows:
            return None
        with self.db.lock:
            return self._batch(self.db.conn, int(rows[0]["id"]))  # type: ignore[call-overload]

    def search(self, *, batch_id: int | None = None, entity: str | None = None,
               since: str | None = None, limit: int | None = None) -> list[StoredFiling]:
        """Filings, newest batch first: of one batch, one entity's, since an ISO date (the
        batch's date, else when the filing was first seen)."""
        where, params = [], []
        if batch_id is not None:
            where.append("f.batch_id = ?")
            params.append(batch_id)
        if entity:
            where.append("f.id IN (SELECT filing_id FROM filing_hits WHERE entity = ?)")
            params.append(entity)
        if since:
            where.append("COALESCE(b.date, substr(f.first_seen, 1, 10)) >= ?")
            params.append(since)
        sql = (f"""SELECT f.id FROM filings f JOIN filing_batches b ON b.id = f.batch_id
                   {'WHERE ' + ' AND '.join(where) if where else ''}
                   ORDER BY COALESCE(b.date, substr(b.first_seen, 1, 10)) DESC, f.batch_id DESC,
                   f.id""" + (" LIMIT ?" if limit else ""))
        ids = [int(r["id"]) for r in self.db.rows(sql, [*params, *([limit] if limit else [])])]  # type: ignore[call-overload]
        with self.db.lock:
            return self._by_ids(self.db.conn, ids)

    def filer_counts(self, min_filings: int = 2) -> list[tuple[str, int, tuple[str, ...]]]:
        """Filers with at least `min_filings` filings: (filer, count, their algorithms),
        most filings first (for `newsbot filings suggest`)."""
        rows = self.db.rows(
            """SELECT filer, COUNT(*) AS n, json_group_array(algorithm) AS algorithms
               FROM filings GROUP BY filer HAVING COUNT(*) >= ? ORDER BY n DESC, filer""",
            [min_filings])
        return [(str(r["filer"]), int(r["n"]),  # type: ignore[call-overload]
                 tuple(a for a in json.loads(str(r["algorithms"])) if a)) for r in rows]

    def _batch(self, conn: sqlite3.Connection, batch_id: int) -> StoredBatch:
        row = conn.execute(
            """SELECT b.id, b.kind, b.label, b.date, b.title, b.source, b.first_seen,
                      (SELECT COUNT(*) FROM filings WHERE batch_id = b.id),
                      (SELECT COUNT(DISTINCT filer) FROM filings WHERE batch_id = b.id)
               FROM filing_batches b WHERE b.id = ?""", [batch_id]).fetchone()
        return StoredBatch(row[0], row[1], row[2], row[3], row[4], row[5], from_ts(row[6]),
                           row[7], row[8])  # type: ignore[arg-type]

    def _by_ids(self, conn: sqlite3.Connection, ids: Sequence[int]) -> list[StoredFiling]:
        """These filings, in the order given."""
        found: dict[int, StoredFiling] = {}
        for chunk in chunks(ids):
            rows = conn.execute(
                f"""SELECT f.id, f.kind, b.label, b.date, f.filer, f.algorithm, f.role,
                           f.product, f.purpose, f.number, f.note, f.first_seen,
                           (SELECT group_concat(entity, ' ') FROM
                              (SELECT entity FROM filing_hits WHERE filing_id = f.id
                               ORDER BY entity))
                    FROM filings f JOIN filing_batches b ON b.id = f.batch_id
                    WHERE f.id IN ({marks(chunk)})""", chunk).fetchall()
            for r in rows:
                found[r[0]] = StoredFiling(*r[:11], entities=tuple((r[12] or "").split()),
                                           first_seen=from_ts(r[11]))  # type: ignore[arg-type]
        return [found[i] for i in ids if i in found]


def _upsert_batch(conn: sqlite3.Connection, info: BatchInfo, stamp: str) -> tuple[int, bool]:
    """The batch's id, and whether it is new. A later version may add its date and title."""
    row = conn.execute("SELECT id FROM filing_batches WHERE kind = ? AND label = ?",
                       [info.kind, info.label]).fetchone()
    if row is not None:
        conn.execute(
            """UPDATE filing_batches SET date = COALESCE(?, date), title = COALESCE(?, title),
               updated = ? WHERE id = ?""", [info.date, info.title, stamp, row[0]])
        return int(row[0]), False
    new = conn.execute(
        """INSERT INTO filing_batches (kind, label, date, title, source, first_seen, updated)
           VALUES (?,?,?,?,?,?,?) RETURNING id""",
        [info.kind, info.label, info.date, info.title, info.source, stamp, stamp]).fetchone()
    return int(new[0]), True


def _known(conn: sqlite3.Connection,
           identities: Sequence[str]) -> dict[str, tuple[int, tuple[object, ...]]]:
    """identity → (id, its stored fields) for the filings already stored."""
    known = {}
    for chunk in chunks(identities):
        for row in conn.execute(
                f"SELECT identity, id, {', '.join(_FIELDS)} FROM filings "
                f"WHERE identity IN ({marks(chunk)})", chunk):
            known[row[0]] = (row[1], tuple(row[2:]))
    return known


def _write_hits(conn: sqlite3.Connection, filing_id: int, hits: Sequence[Hit]) -> None:
    """The filer's entities under the current rules (they may have grown since)."""
    conn.execute("DELETE FROM filing_hits WHERE filing_id = ?", [filing_id])
    conn.executemany(
        "INSERT INTO filing_hits (filing_id, entity, list, alias) VALUES (?,?,?,?) "
        "ON CONFLICT DO NOTHING", [(filing_id, h.entity, h.list, h.alias) for h in hits])
