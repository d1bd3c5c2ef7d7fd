"""Feed state: validators for conditional GET, error bookkeeping, next poll, health."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Feed, FetchResult, Validators
from bot.store.db import Db, chunks, from_ts, marks, ts


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about one feed between polls."""

    feed: str
    url: str
    validators: Validators
    last_ok: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    first_error_at: datetime | None
    consecutive_errors: int
    next_poll: datetime | None
    polls: int

    @property
    def never_succeeded(self) -> bool:
        return self.last_ok is None


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """One poll outcome to remember (see Feeds.record_fetch)."""

    feed: Feed
    result: FetchResult
    now: datetime
    error: str | None = None
    bozo: str | None = None
    next_poll: datetime | None = None
    count_error: bool = True


@dataclass(frozen=True, slots=True)
class HealthInput:
    """What the health check needs to know about one feed."""

    feed: str
    health: str
    since: datetime | None
    first_error_at: datetime | None
    last_error: str | None
    arrivals: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One row of `newsbot status`."""

    name: str
    url: str
    last_ok: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_errors: int
    items: int
    next_poll: datetime | None
    health: str = "ok"


class Feeds:
    """The feed_state table: one row per feed ever polled."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def states(self, names: Sequence[str] | None = None) -> dict[str, FeedState]:
        """The remembered state of these feeds (default: every feed), by feed name."""
        if names is None:
            rows = self.db.rows("SELECT * FROM feed_state")
        else:
            rows = []
            for chunk in chunks(names):
                rows += self.db.rows(f"SELECT * FROM feed_state WHERE feed IN ({marks(chunk)})",
                                     chunk)
        return {r["feed"]: _feed_state(r) for r in rows}

    def schedule(self) -> dict[str, datetime | None]:
        """Each known feed's next poll time (cheap: read every tick)."""
        with self.db.lock:
            rows = self.db.conn.execute("SELECT feed, next_poll FROM feed_state").fetchall()
        return {feed: from_ts(when) for feed, when in rows}

    def state(self, feed: str) -> FeedState | None:
        rows = self.db.rows("SELECT * FROM feed_state WHERE feed = ?", [feed])
        return _feed_state(rows[0]) if rows else None

    def record_fetch(
        self,
        feed: Feed,
        result: FetchResult,
        now: datetime,
        *,
        error: str | None = None,
        bozo: str | None = None,
        next_poll: datetime | None = None,
        count_error: bool = True,
    ) -> None:
        """Remember a poll's outcome: validators on success, error bookkeeping on failure.

        `count_error=False` records the error text without counting it against the feed
        (our own network outage, not the feed's fault).
        """
        self.record_fetches(
            [FetchRecord(feed, result, now, error, bozo, next_poll, count_error)]
        )

    def record_fetches(self, records: Sequence[FetchRecord]) -> None:
        """record_fetch for many feeds in one transaction (a cycle of 304s is one commit)."""
        with self.db.tx() as conn:
            for r in records:
                write_fetch(conn, r)

    def health_inputs(self, recent: int = 20) -> list[HealthInput]:
        """Per known feed: its recorded health, failure start and recent arrival times.

        Arrival times are the first_seen of non-backfill items (a backfill arrives all at
        once and says nothing about the feed's cadence).
        """
        rows = self.db.rows(
            "SELECT feed, health, health_since, first_error_at, last_error FROM feed_state")
        times: dict[str, list[datetime]] = {}
        for r in self.db.rows(
            """SELECT feed, first_seen FROM (
                 SELECT feed, first_seen, ROW_NUMBER() OVER (
                   PARTITION BY feed ORDER BY first_seen DESC) AS n
                 FROM items WHERE backfill = 0) WHERE n <= ?""",
            [recent],
        ):
            times.setdefault(r["feed"], []).append(from_ts(r["first_seen"]))
        return [
            HealthInput(
                feed=r["feed"], health=r["health"], since=from_ts(r["health_since"]),
                first_error_at=from_ts(r["first_error_at"]), last_error=r["last_error"],
                arrivals=tuple(sorted(times.get(r["feed"], ()))),
            )
            for r in rows
        ]

    def set_health(self, feed: str, health: str, now: datetime) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE feed_state SET health = ?, health_since = ? WHERE feed = ?",
                [health, ts(now), feed],
            )

    def set_next_poll(self, feed: str, next_poll: datetime | None) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE feed_state SET next_poll = ? WHERE feed = ?", [ts(next_poll), feed]
            )

    def health(self, feeds: Sequence[Feed] | None = None) -> list[FeedHealth]:
        """Health of every feed in `feeds` (in that order), or of every feed ever polled."""
        counts = {r["feed"]: r["n"] for r in self.db.rows(
            "SELECT feed, COUNT(*) AS n FROM items GROUP BY feed")}
        states = self.states()
        healths = {r["feed"]: r["health"]
                   for r in self.db.rows("SELECT feed, health FROM feed_state")}
        targets = [(f.name, f.url) for f in feeds] if feeds is not None else sorted(
            (s.feed, s.url) for s in states.values())
        out = []
        for name, url in targets:
            s = states.get(name)
            out.append(FeedHealth(
                name=name, url=url,
                last_ok=s.last_ok if s else None,
                last_error=s.last_error if s else None,
                last_error_at=s.last_error_at if s else None,
                consecutive_errors=s.consecutive_errors if s else 0,
                items=counts.get(name, 0),
                next_poll=s.next_poll if s else None,
                health=healths.get(name, "ok"),
            ))
        return out


def write_fetch(conn: sqlite3.Connection, r: FetchRecord) -> None:
    """Write one poll outcome inside the caller's transaction."""
    feed, now, next_poll = r.feed, r.now, r.next_poll
    failed = r.error is not None or r.result.status == "error"
    error_text = r.error or r.result.error
    conn.execute(
        "INSERT INTO feed_state (feed, url) VALUES (?, ?) "
        "ON CONFLICT (feed) DO UPDATE SET url = excluded.url",
        [feed.name, feed.url],
    )
    if failed and not r.count_error:
        conn.execute(
            """UPDATE feed_state SET last_attempt = ?, last_error = ?, last_error_at = ?,
               next_poll = ? WHERE feed = ?""",
            [ts(now), error_text, ts(now), ts(next_poll), feed.name],
        )
    elif failed:
        conn.execute(
            """UPDATE feed_state SET last_attempt = ?, last_error = ?, last_error_at = ?,
               first_error_at = COALESCE(first_error_at, ?),
               consecutive_errors = consecutive_errors + 1, polls = polls + 1,
               next_poll = ? WHERE feed = ?""",
            [ts(now), error_text, ts(now), ts(now), ts(next_poll), feed.name],
        )
    else:
        v = r.result.validators
        conn.execute(
            """UPDATE feed_state SET etag = ?, last_modified = ?, body_hash = ?,
               last_ok = ?, last_attempt = ?, consecutive_errors = 0,
               first_error_at = NULL, polls = polls + 1, next_poll = ?,
               bozo = COALESCE(?, bozo) WHERE feed = ?""",
            [v.etag, v.last_modified, v.body_hash, ts(now), ts(now), ts(next_poll),
             r.bozo, feed.name],
        )


def _feed_state(r: dict[str, object]) -> FeedState:
    return FeedState(
        feed=r["feed"], url=r["url"],
        validators=Validators(r["etag"], r["last_modified"], r["body_hash"]),
        last_ok=from_ts(r["last_ok"]), last_attempt=from_ts(r["last_attempt"]),
        last_error=r["last_error"], last_error_at=from_ts(r["last_error_at"]),
        first_error_at=from_ts(r["first_error_at"]),
        consecutive_errors=int(r["consecutive_errors"]), next_poll=from_ts(r["next_poll"]),
        polls=int(r["polls"]),
    )  # type: ignore[arg-type]
