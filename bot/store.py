"""The only SQLite user: schema migrations, items, hits, alerts, outbox, subscribers, feed state.

One connection, guarded by a lock, so the asyncio side can call any method through
`asyncio.to_thread` without two threads ever sharing a cursor. Everything that turns a new
item into alerts happens in one transaction (`record_items`): the item, its hits, its alert
and one outbox row per subscribed chat are committed together or not at all.

Times are stored as ISO-8601 UTC text with millisecond precision, which sorts correctly.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.errors import StoreError
from bot.models import Feed, FetchResult, Hit, Item, Validators
from bot.schedule import digest_moment
from bot.stories import (
    WINDOW,
    StoryCandidate,
    StoryKeys,
    choose_story,
    exact_index,
    item_story_keys,
)

migrations = Migrations("newsbot")


def _run(db: Database, statements: str) -> None:
    # executescript() would COMMIT behind the migration's transaction: run one by one.
    for statement in statements.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE feed_state (
            feed TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            last_ok TEXT,
            last_attempt TEXT,
            last_error TEXT,
            last_error_at TEXT,
            first_error_at TEXT,
            consecutive_errors INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            polls INTEGER NOT NULL DEFAULT 0,
            bozo TEXT
        );
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            feed TEXT NOT NULL,
            key TEXT NOT NULL,
            guid TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            link TEXT,
            published TEXT,
            lang TEXT,
            first_seen TEXT NOT NULL,
            backfill INTEGER NOT NULL DEFAULT 0,
            matched INTEGER NOT NULL DEFAULT 0,
            UNIQUE (feed, key)
        );
        CREATE INDEX items_matched_seen ON items (matched, first_seen);
        CREATE TABLE hits (
            item_id INTEGER NOT NULL REFERENCES items(id),
            entity TEXT NOT NULL,
            list TEXT NOT NULL,
            alias TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (item_id, entity, list, field, start)
        );
        CREATE INDEX hits_entity ON hits (entity);
        CREATE INDEX hits_list ON hits (list);
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL UNIQUE REFERENCES items(id),
            created TEXT NOT NULL,
            backfill INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE subscribers (
            chat_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            follows TEXT NOT NULL DEFAULT '[]',
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            deactivated_reason TEXT
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            chat_id INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try TEXT NOT NULL,
            last_error TEXT,
            message_id INTEGER,
            created TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (alert_id, chat_id)
        );
        CREATE INDEX outbox_due ON outbox (state, next_try)
        """,
    )


@migrations()
def m002_notices_and_health(db: Database) -> None:
    # Admin notices (failing feeds, broken config) travel through the outbox like alerts,
    # so they get the same rate limits, retries and crash safety: alert_id becomes
    # optional and a notice carries its own text.
    _run(
        db,
        """
        CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER REFERENCES alerts(id),
            chat_id INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try TEXT NOT NULL,
            last_error TEXT,
            message_id INTEGER,
            created TEXT NOT NULL,
            sent_at TEXT,
            text TEXT,
            UNIQUE (alert_id, chat_id),
            CHECK ((alert_id IS NULL) != (text IS NULL))
        );
        INSERT INTO outbox_new (id, alert_id, chat_id, state, attempts, next_try, last_error,
                                message_id, created, sent_at)
            SELECT id, alert_id, chat_id, state, attempts, next_try, last_error, message_id,
                   created, sent_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_new RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (state, next_try);
        ALTER TABLE feed_state ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
        ALTER TABLE feed_state ADD COLUMN health_since TEXT
        """,
    )


@migrations()
def m003_stories(db: Database) -> None:
    # Issue 6: the same news from several feeds is one story. story_keys is the LSH index
    # (bot/stories.py): exact URL/GUID keys and title band keys, each row pointing at the item
    # that produced it. WITHOUT ROWID with (key, at) leading makes the table its own index, so
    # one lookup per key is one b-tree descent and a time window is a range within it.
    _run(
        db,
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            first_item_id INTEGER NOT NULL REFERENCES items(id),
            created TEXT NOT NULL,
            title TEXT NOT NULL,
            at TEXT NOT NULL,
            updated TEXT NOT NULL,
            items INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE story_keys (
            key TEXT NOT NULL,
            at TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            story_id INTEGER NOT NULL REFERENCES stories(id),
            PRIMARY KEY (key, at, item_id)
        ) WITHOUT ROWID;
        ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id);
        CREATE INDEX items_story ON items (story_id)
        """,
    )


@migrations()
def m004_digests(db: Database) -> None:
    # Issue 6: a chat in digest mode gets its alerts once a day. Its outbox rows wait as
    # 'held' until the digest releases them ('digested'); digest_at NULL = immediate alerts.
    # The partial index keeps "this chat's held rows" cheap however large the outbox grows.
    _run(
        db,
        """
        ALTER TABLE subscribers ADD COLUMN digest_at TEXT;
        ALTER TABLE subscribers ADD COLUMN digest_tz TEXT NOT NULL DEFAULT 'UTC';
        ALTER TABLE subscribers ADD COLUMN last_digest TEXT;
        CREATE INDEX outbox_held ON outbox (chat_id) WHERE state = 'held'
        """,
    )


@migrations()
def m005_story_alerts(db: Database) -> None:
    # One alert per story: alerts point at their story, and an alert already sent gets an
    # 'edit' row per chat ("+N sources") instead of a second message. The outbox gains
    # `kind` (send | edit) and its uniqueness becomes (alert, chat, kind).
    _run(
        db,
        """
        ALTER TABLE alerts ADD COLUMN story_id INTEGER REFERENCES stories(id);
        CREATE UNIQUE INDEX alerts_story ON alerts (story_id) WHERE story_id IS NOT NULL;
        CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER REFERENCES alerts(id),
            chat_id INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'send',
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try TEXT NOT NULL,
            last_error TEXT,
            message_id INTEGER,
            created TEXT NOT NULL,
            sent_at TEXT,
            text TEXT,
            UNIQUE (alert_id, chat_id, kind),
            CHECK ((alert_id IS NULL) != (text IS NULL))
        );
        INSERT INTO outbox_new (id, alert_id, chat_id, state, attempts, next_try, last_error,
                                message_id, created, sent_at, text)
            SELECT id, alert_id, chat_id, state, attempts, next_try, last_error, message_id,
                   created, sent_at, text FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_new RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (state, next_try);
        CREATE INDEX outbox_held ON outbox (chat_id) WHERE state = 'held';
        CREATE INDEX outbox_alert ON outbox (alert_id, kind)
        """,
    )


@migrations()
def m006_integer_story_keys(db: Database) -> None:
    # The story index had text rows (~55 bytes: "b3:<hex>" keys, ISO times); a cold cycle of
    # 30,000 items spent most of its writing time in that b-tree. Integer keys (band keys as
    # bot.stories makes them now, exact keys hashed by exact_index) and Unix-second times
    # make rows of ~20 bytes. Existing rows are converted, not dropped: stories keep joining.
    _run(
        db,
        """
        CREATE TABLE story_keys_v2 (
            key INTEGER NOT NULL,
            at INTEGER NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            story_id INTEGER NOT NULL REFERENCES stories(id),
            PRIMARY KEY (key, at, item_id)
        ) WITHOUT ROWID
        """,
    )
    conn = db.conn
    rows = conn.execute("SELECT key, at, item_id, story_id FROM story_keys")
    while chunk := rows.fetchmany(10_000):
        conn.executemany(
            "INSERT OR IGNORE INTO story_keys_v2 (key, at, item_id, story_id) VALUES (?,?,?,?)",
            [(_v1_key(key), _epoch(from_ts(at)), item_id, story_id)
             for key, at, item_id, story_id in chunk],
        )
    _run(db, "DROP TABLE story_keys; ALTER TABLE story_keys_v2 RENAME TO story_keys")


def _v1_key(key: str) -> int:
    """A text key of m003 (`b<band>:<hex>`, `u:…`, `g:…`) as its m006 integer."""
    if key.startswith("b") and ":" in key:
        band, _, mixed = key[1:].partition(":")
        return (int(band) << 48) | int(mixed, 16)
    return exact_index(key)


# A story lookup reads at most this many index rows per title band, the most recent (see
# _find_stories). A copy of a story shares several bands with it, so a crowded band costs
# little recall: at 10, bench/story_dedup.py still finds the original of every near-copy
# among 100,000 stored items, and its labeled set clusters as well as at 50 (P 0.928 vs
# 0.918, R 0.969 both); a cold cycle whose titles repeat a few templates reads 5x fewer rows.
BAND_ROWS = 10

# Telegram counts edits against the chat's limits: one story's message is edited at most
# once per this many seconds, however many sources arrive (the edit shows them all).
EDIT_EVERY = timedelta(seconds=60)


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


def _epoch(moment: datetime | None) -> int:
    """Unix seconds, as the story index stores times (an integer keeps its rows small)."""
    if moment is None:
        raise ValueError("a story key needs a time")
    return int(moment.timestamp())


# an exact key matches at any time: the whole range of stored times
_ALWAYS = (-(1 << 62), 1 << 62)


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
    """One poll outcome to remember (see Store.record_fetch)."""

    feed: Feed
    result: FetchResult
    now: datetime
    error: str | None = None
    bozo: str | None = None
    next_poll: datetime | None = None
    count_error: bool = True


@dataclass(frozen=True, slots=True)
class PollRecord:
    """A feed's parsed poll to record: its items (new or not) and the fetch outcome."""

    fetch: FetchRecord
    items: Sequence[NewItem]
    backfill: bool


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What recording a poll did: how many of its items were new, and what they alerted."""

    new: int
    recorded: list[Recorded]


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
    sources: int = 1  # feeds that carried this item's story (filled by recent_items)

    @property
    def entities(self) -> list[str]:
        return sorted({h.entity for h in self.hits})

    @property
    def lists(self) -> list[str]:
        return sorted({h.list for h in self.hits if h.list})


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A chat that receives alerts. Empty `follows` means everything."""

    chat_id: int
    kind: str
    title: str | None
    active: bool
    follows: tuple[str, ...] = ()
    digest_at: str | None = None  # "HH:MM" in digest_tz: one digest a day; None: immediate
    digest_tz: str = "UTC"

    def wants(self, hits: Iterable[Hit]) -> bool:
        """True when this chat follows a list or entity of these (listed) hits."""
        if not self.follows:
            return True
        wanted = set(self.follows)
        return any(h.list in wanted or h.entity in wanted for h in hits if h.list)


@dataclass(frozen=True, slots=True)
class OutboxJob:
    """One pending delivery to one chat: an alert (`item`) or an admin notice (`text`)."""

    id: int
    alert_id: int | None
    chat_id: int
    chat_kind: str
    attempts: int
    item: StoredItem | None
    text: str | None = None
    kind: str = "send"  # send: a new message; edit: "+N sources" on the sent one
    edit_message_id: int | None = None  # for kind == "edit": the message to edit
    sources: tuple[Source, ...] = ()  # the story's other sources, for "+N sources"


@dataclass(frozen=True, slots=True)
class Source:
    """Another outlet that carried the same story."""

    feed: str
    title: str
    link: str | None


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to record, with the hits the matcher found for it."""

    item: Item
    hits: Sequence[Hit] = field(default_factory=tuple)
    story_keys: StoryKeys | None = None  # computed off the writer when possible

    @property
    def matched(self) -> bool:
        return any(h.list for h in self.hits)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A new item that alerted (kind "alert": queued for `queued` chats) or that joined a
    story already alerted (kind "source": `queued` edits)."""

    stored: StoredItem
    alert_id: int
    queued: int
    kind: str = "alert"


class Store:
    """SQLite store; thread-safe through one lock around one connection."""

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
            self.db = Database(conn, execute_plugins=False)
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from exc
        self.path = path
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (a savepoint when nested). IMMEDIATE: the write lock is taken
        at BEGIN, so what the transaction reads first (known keys, the next item id) cannot
        be changed by another process (a second `newsbot poll`) before it writes."""
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                with self.db.atomic():
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

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self.db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]  # type: ignore[misc]

    # ---- feed state -------------------------------------------------------------------

    def feed_states(self, names: Sequence[str] | None = None) -> dict[str, FeedState]:
        """The remembered state of these feeds (default: every feed), by feed name."""
        if names is None:
            rows = self._rows("SELECT * FROM feed_state")
        else:
            rows = []
            for start in range(0, len(names), 500):
                chunk = list(names[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows += self._rows(f"SELECT * FROM feed_state WHERE feed IN ({marks})", chunk)
        return {r["feed"]: _feed_state(r) for r in rows}

    def poll_schedule(self) -> dict[str, datetime | None]:
        """Each known feed's next poll time (cheap: read every tick)."""
        with self._lock:
            rows = self.db.conn.execute("SELECT feed, next_poll FROM feed_state").fetchall()
        return {feed: from_ts(when) for feed, when in rows}

    def feed_state(self, feed: str) -> FeedState | None:
        rows = self._rows("SELECT * FROM feed_state WHERE feed = ?", [feed])
        return _feed_state(rows[0]) if rows else None

    @staticmethod
    def _known_keys(conn: sqlite3.Connection, feed: str, keys: Sequence[str]) -> set[str]:
        """Which of these item keys this feed has already stored."""
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            known.update(key for (key,) in conn.execute(
                f"SELECT key FROM items WHERE feed = ? AND key IN ({marks})", [feed, *chunk]))
        return known

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
        with self._tx() as conn:
            for r in records:
                _record_fetch(conn, r)

    def record_polls(self, polls: Sequence[PollRecord]) -> list[PollOutcome | Exception]:
        """Record several feeds' polls (record_items, then record_fetch) in one transaction.

        One commit for many feeds: a cold cycle's story index takes its inserts all over
        the b-tree, so each commit writes hundreds of pages; a group shares them. Each poll
        has its own savepoint, so a poll that fails is rolled back alone and its exception
        returned in its place; the others are recorded. Returns, per poll, its outcome or
        its exception.
        """
        out: list[PollOutcome | Exception] = []
        with self._tx() as conn:
            for poll in polls:
                try:
                    with self._tx():
                        outcome = self._record_items(poll.fetch.feed, poll.items,
                                                     poll.fetch.now, backfill=poll.backfill)
                        _record_fetch(conn, poll.fetch)
                except Exception as exc:  # noqa: BLE001 - this feed's failure, not the group's
                    if not conn.in_transaction:  # SQLite gave up the whole transaction
                        raise
                    out.append(exc)
                else:
                    out.append(outcome)
        return out

    def health_inputs(self, recent: int = 20) -> list[HealthInput]:
        """Per known feed: its recorded health, failure start and recent arrival times.

        Arrival times are the first_seen of non-backfill items (a backfill arrives all at
        once and says nothing about the feed's cadence).
        """
        rows = self._rows("SELECT feed, health, health_since, first_error_at, last_error FROM feed_state")
        times: dict[str, list[datetime]] = {}
        for r in self._rows(
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
        with self._tx() as conn:
            conn.execute(
                "UPDATE feed_state SET health = ?, health_since = ? WHERE feed = ?",
                [health, ts(now), feed],
            )

    def set_next_poll(self, feed: str, next_poll: datetime | None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE feed_state SET next_poll = ? WHERE feed = ?", [ts(next_poll), feed]
            )

    # ---- items, hits, alerts, outbox ---------------------------------------------------

    def record_items(
        self, feed: Feed, new_items: Sequence[NewItem], now: datetime, *, backfill: bool
    ) -> list[Recorded]:
        """Store items; group them into stories; alert once per story.

        All in one transaction. An item already stored (same feed and key) is skipped, so an
        item is new exactly once. A new item starts or joins a story. The first matched item
        of a story is its alert, queued for every interested chat (held for chats in digest
        mode); an item joining a story that already has an alert is another source: each
        chat that was sent the alert gets an edit ("+N sources"). Backfill alerts are
        recorded but queue no chat.

        Batched: one story lookup for the whole batch, rows written with executemany. The
        writer is the one serial stage of a cold cycle, and each statement is a trip through
        the GIL that the event loop and the parse results compete for.
        """
        return self._record_items(feed, new_items, now, backfill=backfill).recorded

    def _record_items(
        self, feed: Feed, new_items: Sequence[NewItem], now: datetime, *, backfill: bool
    ) -> PollOutcome:
        unique: dict[str, NewItem] = {}
        for new in new_items:
            unique.setdefault(new.item.key, new)
        stamp = ts(now)
        with self._tx() as conn:
            known = self._known_keys(conn, feed.name, list(unique))
            fresh = [new for key, new in unique.items() if key not in known]
            if not fresh:
                return PollOutcome(0, [])
            probes = [self._probe(new.item, new.story_keys, now) for new in fresh]
            found = self._find_stories(conn, probes, now)
            # Ids are given here, not by INSERT: the whole batch then goes in with executemany.
            # A new story takes the id of its first item (story ids never pass item ids, so
            # the two never collide). An item of a story started in this batch is inserted
            # without it and pointed at it once the story row exists: deferring the foreign
            # keys instead makes SQLite scan child tables on every insert.
            next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0]
            batch = _Batch()
            placed: list[tuple[NewItem, int, int, bool]] = []  # item, id, story, new story
            for offset, (new, keys) in enumerate(zip(fresh, probes, strict=True)):
                item_id = next_id + offset
                candidates = [*found[offset], *batch.candidates(keys)]
                story_id = choose_story(keys, candidates, feed=feed.name)
                is_new = story_id is None
                story_id = item_id if story_id is None else story_id
                batch.add(keys, item_id, story_id, new.item.title, feed.name)
                placed.append((new, item_id, story_id, is_new))
            conn.executemany(
                """INSERT INTO items (id, feed, key, guid, title, summary, link, published,
                   lang, first_seen, backfill, matched, story_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                [(item_id, feed.name, new.item.key, new.item.guid, new.item.title,
                  new.item.summary, new.item.link, ts(new.item.published), new.item.lang, stamp,
                  int(backfill), int(new.matched), story_id if story_id < next_id else None)
                 for new, item_id, story_id, _ in placed],
            )
            conn.executemany(
                """INSERT INTO stories (id, first_item_id, created, title, at, updated, items)
                   VALUES (?,?,?,?,?,?,1)""",
                [(story_id, item_id, stamp, new.item.title, ts(keys.at), stamp)
                 for (new, item_id, story_id, is_new), keys in zip(placed, probes, strict=True)
                 if is_new],
            )
            conn.executemany(  # the items of stories this batch started, now that they exist
                "UPDATE items SET story_id = ? WHERE id = ?",
                [(story_id, item_id) for _, item_id, story_id, _ in placed if story_id >= next_id],
            )
            joined: dict[int, int] = {}
            for _, _, story_id, is_new in placed:
                if not is_new:
                    joined[story_id] = joined.get(story_id, 0) + 1
            conn.executemany(
                "UPDATE stories SET items = items + ?, updated = ? WHERE id = ?",
                [(n, stamp, story_id) for story_id, n in joined.items()],
            )
            conn.executemany(
                """INSERT INTO hits (item_id, entity, list, alias, field, start, "end", score)
                   VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING""",
                [(item_id, h.entity, h.list, h.alias, h.field, h.start, h.end, h.score)
                 for new, item_id, _, _ in placed for h in new.hits],
            )
            conn.executemany(
                "INSERT INTO story_keys (key, at, item_id, story_id) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                [(key, at, item_id, story_id)
                 for (_, item_id, story_id, _), keys in zip(placed, probes, strict=True)
                 for at in (_epoch(keys.at),) for key in keys.index],
            )
            return PollOutcome(len(fresh), self._alert(conn, feed, placed, now, backfill=backfill))

    def _alert(
        self, conn: sqlite3.Connection, feed: Feed, placed: Sequence[tuple[NewItem, int, int, bool]],
        now: datetime, *, backfill: bool,
    ) -> list[Recorded]:
        """record_items' last step: alert new matched stories, edit alerts of joined ones."""
        stamp = ts(now)
        alerts: dict[int, int] = {}  # story id → its alert id
        joined = sorted({story_id for _, _, story_id, is_new in placed if not is_new})
        for start in range(0, len(joined), 500):
            chunk = joined[start : start + 500]
            marks = ",".join("?" * len(chunk))
            alerts.update(conn.execute(
                f"SELECT story_id, id FROM alerts WHERE story_id IN ({marks})", chunk).fetchall())
        subscribers: list[Subscriber] | None = None
        recorded: list[Recorded] = []
        for new, item_id, story_id, _ in placed:
            item = new.item
            stored = StoredItem(
                id=item_id, feed=feed.name, title=item.title, summary=item.summary,
                link=item.link, published=item.published, first_seen=now, lang=item.lang,
                backfill=backfill, hits=tuple(new.hits), story_id=story_id,
            )
            alert_id = alerts.get(story_id)
            if alert_id is not None:
                edits = self._queue_edits(conn, alert_id, now)
                recorded.append(Recorded(stored, alert_id, edits, kind="source"))
                continue
            if not new.matched:
                continue
            alert_id = conn.execute(
                """INSERT INTO alerts (item_id, created, backfill, story_id)
                   VALUES (?,?,?,?) RETURNING id""",
                [item_id, stamp, int(backfill), story_id],
            ).fetchone()[0]
            alerts[story_id] = alert_id  # a later item of this batch is another source
            if subscribers is None:
                subscribers = [] if backfill else self._active_subscribers(conn)
            chats = [s for s in subscribers if s.wants(new.hits)]
            conn.executemany(
                """INSERT INTO outbox (alert_id, chat_id, state, next_try, created)
                   VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING""",
                [(alert_id, s.chat_id, "held" if s.digest_at else "pending", stamp, stamp)
                 for s in chats],
            )
            recorded.append(Recorded(stored=stored, alert_id=alert_id, queued=len(chats)))
        return recorded

    @staticmethod
    def _queue_edits(conn: sqlite3.Connection, alert_id: int, now: datetime) -> int:
        """An alert's story has a new source: queue (or re-arm) one edit per chat sent it.

        A chat whose alert is still pending needs nothing: the alert is rendered when sent,
        with every source known by then. One edit row per (alert, chat), re-armed at most
        once per EDIT_EVERY, so a story seen in twenty feeds is not twenty edits.
        """
        sent = conn.execute(
            """SELECT o.chat_id, o.sent_at, e.state, e.sent_at FROM outbox o
               LEFT JOIN outbox e ON e.alert_id = o.alert_id AND e.chat_id = o.chat_id
                                 AND e.kind = 'edit'
               WHERE o.alert_id = ? AND o.kind = 'send' AND o.state = 'sent'""",
            [alert_id],
        ).fetchall()
        for chat_id, sent_at, edit_state, edited_at in sent:
            if edit_state == "pending":
                continue  # an edit is already queued: it will show this source too
            last = from_ts(edited_at) or from_ts(sent_at) or now
            next_try = max(now, last + EDIT_EVERY) if edited_at else now
            conn.execute(
                """INSERT INTO outbox (alert_id, chat_id, kind, next_try, created)
                   VALUES (?, ?, 'edit', ?, ?)
                   ON CONFLICT (alert_id, chat_id, kind) DO UPDATE SET
                     state = 'pending', attempts = 0, next_try = excluded.next_try,
                     last_error = NULL""",
                [alert_id, chat_id, ts(next_try), ts(now)],
            )
        return len(sent)

    def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxJob]:
        """Pending deliveries whose time has come, oldest first."""
        rows = self._rows(
            """SELECT o.id, o.alert_id, o.chat_id, o.attempts, o.text, o.kind,
                      s.kind AS chat_kind, a.item_id, a.story_id,
                      (SELECT m.message_id FROM outbox m WHERE m.alert_id = o.alert_id
                         AND m.chat_id = o.chat_id AND m.kind = 'send') AS edit_of
               FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id
               LEFT JOIN subscribers s ON s.chat_id = o.chat_id
               WHERE o.state = 'pending' AND o.next_try <= ?
               ORDER BY o.next_try, o.id LIMIT ?""",
            [ts(now), limit],
        )
        items = self._items_by_id({r["item_id"] for r in rows if r["item_id"] is not None})
        sources = self._other_sources({(r["story_id"], r["item_id"]) for r in rows
                                       if r["story_id"] is not None})
        return [
            OutboxJob(
                id=r["id"], alert_id=r["alert_id"], chat_id=r["chat_id"],
                chat_kind=r["chat_kind"] or "private", attempts=r["attempts"],
                item=items.get(r["item_id"]), text=r["text"], kind=r["kind"],
                edit_message_id=r["edit_of"] if r["kind"] == "edit" else None,
                sources=sources.get((r["story_id"], r["item_id"]), ()),
            )
            for r in rows
        ]

    def _other_sources(self, stories: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[Source, ...]]:
        """For each (story, alerted item): the story's other items, one per feed, oldest first."""
        out: dict[tuple[int, int], tuple[Source, ...]] = {}
        for story_id, item_id in stories:
            seen: dict[str, Source] = {}
            for r in self._rows(
                """SELECT feed, title, link FROM items WHERE story_id = ? AND id != ?
                   ORDER BY first_seen, id""",
                [story_id, item_id],
            ):
                seen.setdefault(r["feed"], Source(r["feed"], r["title"], r["link"]))
            out[(story_id, item_id)] = tuple(seen.values())
        return out

    def enqueue_notice(self, chat_ids: Sequence[int], html: str, now: datetime) -> int:
        """Queue an admin notice (Telegram HTML) for these chats; returns rows queued."""
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO outbox (chat_id, text, next_try, created) VALUES (?,?,?,?)",
                [(chat, html, ts(now), ts(now)) for chat in chat_ids],
            )
        return len(chat_ids)

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery becomes due (None when the outbox is empty)."""
        rows = self._rows("SELECT MIN(next_try) AS t FROM outbox WHERE state = 'pending'")
        return from_ts(rows[0]["t"])

    def mark_sent(self, outbox_id: int, message_id: int | None, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?,
                   attempts = attempts + 1 WHERE id = ?""",
                [message_id, ts(now), outbox_id],
            )

    def mark_retry(self, outbox_id: int, next_try: datetime, error: str) -> None:
        with self._tx() as conn:
            conn.execute(
                """UPDATE outbox SET attempts = attempts + 1, next_try = ?, last_error = ?
                   WHERE id = ?""",
                [ts(next_try), error, outbox_id],
            )

    def postpone_chat(self, chat_id: int, next_try: datetime) -> None:
        """Delay every pending delivery of one chat (after a 429 for that chat)."""
        with self._tx() as conn:
            conn.execute(
                """UPDATE outbox SET next_try = MAX(next_try, ?)
                   WHERE chat_id = ? AND state = 'pending'""",
                [ts(next_try), chat_id],
            )

    def mark_failed(self, outbox_id: int, error: str, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?,
                   sent_at = ? WHERE id = ?""",
                [error, ts(now), outbox_id],
            )

    def outbox_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    # ---- subscribers --------------------------------------------------------------------

    def subscribe(self, chat_id: int, kind: str, title: str | None, now: datetime) -> bool:
        """Subscribe a chat; True when it is new or was inactive."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT active FROM subscribers WHERE chat_id = ?", [chat_id]
            ).fetchone()
            if row is None:
                conn.execute(
                    """INSERT INTO subscribers (chat_id, kind, title, active, created, updated)
                       VALUES (?,?,?,1,?,?)""",
                    [chat_id, kind, title, ts(now), ts(now)],
                )
                return True
            conn.execute(
                """UPDATE subscribers SET active = 1, kind = ?, title = ?, updated = ?,
                   deactivated_reason = NULL WHERE chat_id = ?""",
                [kind, title, ts(now), chat_id],
            )
            return not row[0]

    def unsubscribe(self, chat_id: int, now: datetime | None = None) -> bool:
        """Stop a chat's alerts; True when it was active. Its pending deliveries are dropped."""
        return self.deactivate(chat_id, "unsubscribed", now or datetime.now(UTC))

    def deactivate(self, chat_id: int, reason: str, now: datetime) -> bool:
        """Mark a chat inactive (unsubscribed, blocked the bot, kicked) and fail its queue."""
        with self._tx() as conn:
            cur = conn.execute(
                """UPDATE subscribers SET active = 0, deactivated_reason = ?, updated = ?
                   WHERE chat_id = ? AND active = 1""",
                [reason, ts(now), chat_id],
            )
            conn.execute(
                """UPDATE outbox SET state = 'failed', last_error = ?
                   WHERE chat_id = ? AND state IN ('pending', 'held')""",
                [f"chat inactive: {reason}", chat_id],
            )
            return cur.rowcount > 0

    def subscriber(self, chat_id: int) -> Subscriber | None:
        rows = self._rows("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id])
        return _subscriber(rows[0]) if rows else None

    def set_follows(self, chat_id: int, follows: Sequence[str], now: datetime | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE subscribers SET follows = ?, updated = ? WHERE chat_id = ?",
                [json.dumps(sorted(set(follows))), ts(now or datetime.now(UTC)), chat_id],
            )

    def active_subscribers(self) -> list[Subscriber]:
        with self._lock:
            return self._active_subscribers(self.db.conn)

    def _active_subscribers(self, conn: sqlite3.Connection) -> list[Subscriber]:
        cursor = conn.execute("SELECT * FROM subscribers WHERE active = 1 ORDER BY chat_id")
        names = [d[0] for d in cursor.description]
        return [_subscriber(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    # ---- reading --------------------------------------------------------------------------

    def recent_items(
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
        rows = self._rows(
            f"""SELECT i.* FROM alerts a JOIN items i ON i.id = a.item_id
                WHERE {' AND '.join(where)}
                ORDER BY i.first_seen DESC, COALESCE(i.published, i.first_seen) DESC, i.id DESC
                LIMIT ?""",
            [*params, n],
        )
        items = self._with_hits(rows)
        counts = self.story_sources([i.story_id for i in items if i.story_id is not None])
        return [replace(i, sources=counts.get(i.story_id, 1)) if i.story_id else i for i in items]

    def search_items(self, words: str, n: int = 10) -> list[StoredItem]:
        """Stored items whose title or summary contain every word (case-insensitive)."""
        terms = [w for w in words.split() if w]
        if not terms:
            return []
        where = " AND ".join(["(i.title LIKE ? ESCAPE '\\' OR i.summary LIKE ? ESCAPE '\\')"] * len(terms))
        params: list[object] = []
        for term in terms:
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        rows = self._rows(
            f"SELECT i.* FROM items i WHERE {where} ORDER BY i.first_seen DESC, i.id DESC LIMIT ?",
            [*params, n],
        )
        return self._with_hits(rows)

    def items_since(self, since: datetime) -> list[StoredItem]:
        """Every item first seen at or after `since`, oldest first, with its hits."""
        rows = self._rows(
            "SELECT * FROM items WHERE first_seen >= ? ORDER BY first_seen, id", [ts(since)]
        )
        return self._with_hits(rows)

    def item(self, item_id: int) -> StoredItem | None:
        return self._items_by_id({item_id}).get(item_id)

    def _items_by_id(self, ids: set[int]) -> dict[int, StoredItem]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(f"SELECT * FROM items WHERE id IN ({marks})", list(ids))
        return {s.id: s for s in self._with_hits(rows)}

    def _with_hits(self, rows: list[dict[str, object]]) -> list[StoredItem]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        hits: dict[int, list[Hit]] = {}
        for h in self._rows(
            f'SELECT * FROM hits WHERE item_id IN ({marks}) ORDER BY list, entity, field, start',
            ids,
        ):
            hits.setdefault(h["item_id"], []).append(
                Hit(h["entity"], h["list"], h["alias"], h["field"], h["start"], h["end"], h["score"])
            )
        return [
            StoredItem(
                id=r["id"], feed=r["feed"], title=r["title"], summary=r["summary"],
                link=r["link"], published=from_ts(r["published"]),
                first_seen=from_ts(r["first_seen"]), lang=r["lang"],
                backfill=bool(r["backfill"]), hits=tuple(hits.get(r["id"], ())),
                story_id=r.get("story_id"),
            )
            for r in rows
        ]

    def feed_health(self, feeds: Sequence[Feed] | None = None) -> list[FeedHealth]:
        """Health of every feed in `feeds` (in that order), or of every feed ever polled."""
        counts = {r["feed"]: r["n"] for r in self._rows(
            "SELECT feed, COUNT(*) AS n FROM items GROUP BY feed")}
        states = self.feed_states()
        healths = {r["feed"]: r["health"] for r in self._rows("SELECT feed, health FROM feed_state")}
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

    def stats(self) -> dict[str, int]:
        row = self._rows(
            """SELECT (SELECT COUNT(*) FROM subscribers) AS subscribers,
                      (SELECT COUNT(*) FROM subscribers WHERE active = 1) AS active_subscribers,
                      (SELECT COUNT(*) FROM items) AS items,
                      (SELECT COUNT(*) FROM items WHERE matched = 1) AS matched_items,
                      (SELECT COUNT(*) FROM alerts) AS alerts,
                      (SELECT COUNT(*) FROM feed_state) AS feeds"""
        )[0]
        stats = {k: int(v) for k, v in row.items()}
        stats.update(self.outbox_counts())
        return stats

    # ---- stories (issue 6) ----------------------------------------------------------------

    def find_story(
        self, keys: StoryKeys, now: datetime, *, window: timedelta = WINDOW, limit: int = 200
    ) -> list[StoryCandidate]:
        """Stored items sharing a key with `keys`: exact keys at any time, bands in the window."""
        with self._lock:
            return self._find_stories(self.db.conn, [keys], now, window=window, limit=limit)[0]

    def story_id_of(self, item_id: int) -> int | None:
        """The story a stored item belongs to (None before it was assigned)."""
        rows = self._rows("SELECT story_id FROM items WHERE id = ?", [item_id])
        return rows[0]["story_id"] if rows else None

    def story_items(self, story_id: int) -> list[StoredItem]:
        """A story's items, first seen first: the first is the one alerted, the rest its sources."""
        rows = self._rows(
            "SELECT * FROM items WHERE story_id = ? ORDER BY first_seen, id", [story_id]
        )
        return self._with_hits(rows)

    def story_sources(self, story_ids: Sequence[int]) -> dict[int, int]:
        """How many distinct feeds each of these stories was seen in."""
        counts: dict[int, int] = {}
        for start in range(0, len(story_ids), 500):
            chunk = list(story_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in self._rows(
                f"""SELECT story_id, COUNT(DISTINCT feed) AS n FROM items
                    WHERE story_id IN ({marks}) GROUP BY story_id""",
                chunk,
            ):
                counts[r["story_id"]] = r["n"]
        return counts

    @staticmethod
    def _probe(item: Item, keys: StoryKeys | None, now: datetime) -> StoryKeys:
        """An item's story keys, with a time (keyed in a parse worker: first seen is now)."""
        keys = keys or item_story_keys(item, seen=now)
        return keys if keys.at is not None else replace(keys, at=now)

    def _find_stories(
        self,
        conn: sqlite3.Connection,
        probes: Sequence[StoryKeys],
        now: datetime,
        *,
        window: timedelta = WINDOW,
        limit: int = 200,
    ) -> list[list[StoryCandidate]]:
        """Stored items sharing a key with each probe: one indexed query for all of them.

        Exact keys match at any time; a band key matches within `window` of the probe, and
        only its BAND_ROWS most recent rows there: a title shared by thousands of items (a
        series, a template) must not make one lookup read thousands of rows. Per probe,
        exact matches come first, then the items sharing most keys, at most `limit`.
        """
        wanted: list[tuple[int, int, int, int, int]] = []
        span = int(window.total_seconds())
        for n, keys in enumerate(probes):
            at = _epoch(keys.at or now)
            wanted += [(n, exact_index(key), *_ALWAYS, 1) for key in keys.exact]
            wanted += [(n, key, at - span, at + span, 0) for key in keys.bands]
        found: list[dict[int, list[int]]] = [{} for _ in probes]  # per probe: item id → row
        if wanted:
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
                [json.dumps(wanted), BAND_ROWS - 1],
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
        # titles once per distinct candidate, not once per shared key (a near-copy shares ten)
        titles = self._titles(conn, {c[1] for per in kept for c in per})
        return [
            [StoryCandidate(story_id=c[0], item_id=c[1], exact=bool(c[2]),
                            at=datetime.fromtimestamp(c[3], UTC), title=titles[c[1]][0],
                            feed=titles[c[1]][1])
             for c in per]
            for per in kept
        ]

    @staticmethod
    def _titles(conn: sqlite3.Connection, item_ids: set[int]) -> dict[int, tuple[str, str]]:
        """Title and feed of each of these items."""
        ids = sorted(item_ids)
        out: dict[int, tuple[str, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update((i, (title, feed)) for i, title, feed in conn.execute(
                f"SELECT id, title, feed FROM items WHERE id IN ({marks})", chunk))
        return out

    # ---- digests (issue 6) ----------------------------------------------------------------

    def set_digest(self, chat_id: int, at: str | None, tz: str, now: datetime) -> int:
        """Put a chat in digest mode ("HH:MM" in `tz`) or back to immediate alerts (None).

        Switching on counts from `now`: the first digest comes at the next HH:MM, not at once.
        Switching off releases the chat's held rows as ordinary pending alerts, so nothing
        held is lost; returns how many were released.
        """
        with self._tx() as conn:
            if at is not None:
                conn.execute(
                    """UPDATE subscribers SET digest_at = ?, digest_tz = ?, last_digest = ?,
                       updated = ? WHERE chat_id = ?""",
                    [at, tz, ts(now), ts(now), chat_id],
                )
                return 0
            conn.execute(
                """UPDATE subscribers SET digest_at = NULL, digest_tz = ?, updated = ?
                   WHERE chat_id = ?""",
                [tz, ts(now), chat_id],
            )
            return conn.execute(
                """UPDATE outbox SET state = 'pending', next_try = ?
                   WHERE chat_id = ? AND state = 'held'""",
                [ts(now), chat_id],
            ).rowcount

    def digest_chats_due(self, now: datetime) -> list[Subscriber]:
        """Active digest chats whose HH:MM has passed today (their time) since their last one."""
        rows = self._rows(
            """SELECT * FROM subscribers WHERE active = 1 AND digest_at IS NOT NULL
               ORDER BY chat_id"""
        )
        due = []
        for r in rows:
            moment = digest_moment(r["digest_at"], r["digest_tz"], now)
            if moment is None or moment > now:
                continue
            last = from_ts(r["last_digest"])
            if last is None or last < moment:
                due.append(_subscriber(r))
        return due

    def held_alerts(self, chat_id: int) -> list[HeldItem]:
        """The items a chat's held rows wait to tell, first seen first: hits, story, sources."""
        rows = self._rows(
            """SELECT o.id AS outbox_id, i.* FROM outbox o
               JOIN alerts a ON a.id = o.alert_id JOIN items i ON i.id = a.item_id
               WHERE o.chat_id = ? AND o.state = 'held'
               ORDER BY i.first_seen, i.id, o.id""",
            [chat_id],
        )
        by_id = {s.id: s for s in self._with_hits(rows)}
        stories = sorted({r["story_id"] for r in rows if r.get("story_id") is not None})
        feeds = self.story_sources(stories)
        out = []
        for r in rows:
            s = by_id[r["id"]]
            story = r.get("story_id")
            out.append(HeldItem(
                id=s.id, feed=s.feed, title=s.title, summary=s.summary, link=s.link,
                published=s.published, first_seen=s.first_seen, lang=s.lang,
                backfill=s.backfill, hits=s.hits, story_id=story,
                sources=feeds.get(story, 1) if story is not None else 1,
                outbox_id=int(r["outbox_id"]),
            ))
        return out

    def release_digest(
        self,
        chat_id: int,
        html: str | Sequence[str],
        now: datetime,
        *,
        outbox_ids: Sequence[int] | None = None,
    ) -> int:
        """Queue a digest (one outbox notice per message) and retire its held rows, atomically.

        One transaction: the notices, the held rows marked 'digested' and last_digest all
        commit together, so a crash can neither send a digest twice nor lose its alerts.
        `outbox_ids` names the held rows the digest shows (HeldItem.outbox_id): rows held
        after they were read stay held for the next digest. When none of them is held any
        more, another release got there first and nothing is queued. Empty `html`: no
        message, last_digest still moves. Returns the messages queued.
        """
        messages = [html] if isinstance(html, str) else list(html)
        messages = [m for m in messages if m.strip()]
        with self._tx() as conn:
            if outbox_ids is None:
                conn.execute(
                    """UPDATE outbox SET state = 'digested', sent_at = ?
                       WHERE chat_id = ? AND state = 'held'""",
                    [ts(now), chat_id],
                )
            else:
                taken = 0
                for start in range(0, len(outbox_ids), 500):
                    chunk = list(outbox_ids[start : start + 500])
                    marks = ",".join("?" * len(chunk))
                    taken += conn.execute(
                        f"""UPDATE outbox SET state = 'digested', sent_at = ?
                            WHERE chat_id = ? AND state = 'held' AND id IN ({marks})""",
                        [ts(now), chat_id, *chunk],
                    ).rowcount
                if outbox_ids and not taken:
                    messages = []
            conn.executemany(
                "INSERT INTO outbox (chat_id, text, next_try, created) VALUES (?,?,?,?)",
                [(chat_id, text, ts(now), ts(now)) for text in messages],
            )
            conn.execute(
                "UPDATE subscribers SET last_digest = ? WHERE chat_id = ?", [ts(now), chat_id]
            )
        return len(messages)


class _Batch:
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
                found[c.item_id] = replace(c, exact=True)
        for key in keys.bands:
            for c in self._by_key.get(key, ()):
                if c.at is None or keys.at is None or abs(c.at - keys.at) <= self._window:
                    found.setdefault(c.item_id, c)
        return list(found.values())

    def add(self, keys: StoryKeys, item_id: int, story_id: int, title: str, feed: str) -> None:
        """Remember a placed item under each of its keys."""
        candidate = StoryCandidate(story_id=story_id, item_id=item_id, title=title, at=keys.at,
                                   exact=False, feed=feed)
        for key in (*keys.exact, *keys.bands):
            self._by_key.setdefault(key, []).append(candidate)


@dataclass(frozen=True, slots=True)
class HeldItem(StoredItem):
    """An item waiting in a chat's digest, with the held outbox row that waits for it."""

    outbox_id: int = 0


def _record_fetch(conn: sqlite3.Connection, r: FetchRecord) -> None:
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


def _subscriber(r: dict[str, object]) -> Subscriber:
    return Subscriber(
        chat_id=int(r["chat_id"]), kind=str(r["kind"]), title=r["title"],  # type: ignore[arg-type]
        active=bool(r["active"]), follows=tuple(json.loads(str(r["follows"]))),
        digest_at=r.get("digest_at"),  # type: ignore[arg-type]
        digest_tz=str(r.get("digest_tz") or "UTC"),
    )

