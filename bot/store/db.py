"""The store's one SQLite connection, its lock and its transaction helper; time conversions.

Every part of the store (feeds, items, stories, outbox, subscribers, digests, intake) works
through one `Db`, so that `Intake.record_items` can write items, hits, stories, alerts and
outbox rows in one transaction, and the asyncio side can call any part through
`asyncio.to_thread` without two threads ever sharing a cursor.

Times are stored as ISO-8601 UTC text with millisecond precision, which sorts correctly; the
story index stores Unix seconds (an integer keeps its rows small).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from bot.errors import StoreError

# SQLite's default limit on host parameters is far above this; a chunk of 500 keeps each
# statement's parameter list short enough to plan quickly.
CHUNK = 500


class Db(Database):
    """A sqlite-utils Database on one connection, guarded by one re-entrant lock."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                str(path), check_same_thread=False, timeout=30, isolation_level=None
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from exc
        super().__init__(conn, execute_plugins=False)
        self.path = path
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            super().close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (a savepoint when nested). IMMEDIATE: the write lock is taken
        at BEGIN, so what the transaction reads first (known keys, the next item id) cannot
        be changed by another process (a second `newsbot poll`) before it writes."""
        with self.lock:
            conn = self.conn
            if conn.in_transaction:
                with self.atomic():
                    yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
        """The rows of one query, as dicts (read under the lock)."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def chunks(values: Sequence[object]) -> Iterator[list[object]]:
    """`values` in lists of at most CHUNK, for `IN (?, ?, …)` queries."""
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def marks(values: Sequence[object]) -> str:
    """The `?,?,…` placeholders for these values."""
    return ",".join("?" * len(values))


def ts(moment: datetime | None) -> str | None:
    """Aware datetime -> sortable UTC text (None stays None)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def from_ts(text: str | None) -> datetime | None:
    """The inverse of ts()."""
    return datetime.fromisoformat(text) if text else None


def epoch(moment: datetime | None) -> int:
    """Unix seconds, as the story index stores times (an integer keeps its rows small)."""
    if moment is None:
        raise ValueError("a story key needs a time")
    return int(moment.timestamp())
