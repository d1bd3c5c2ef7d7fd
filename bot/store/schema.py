"""The schema: versioned migrations m001…, applied in order when a store opens.

Migrations are history: once landed, one is never edited, only followed by another.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.store.db import epoch, from_ts
from bot.stories.keys import exact_index

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
    # (bot/stories/keys.py): exact URL/GUID keys and title band keys, each row pointing at the item
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
    # bot.stories.keys makes them now, exact keys hashed by exact_index) and Unix-second times
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
            [(_v1_key(key), epoch(from_ts(at)), item_id, story_id)
             for key, at, item_id, story_id in chunk],
        )
    _run(db, "DROP TABLE story_keys; ALTER TABLE story_keys_v2 RENAME TO story_keys")


def _v1_key(key: str) -> int:
    """A text key of m003 (`b<band>:<hex>`, `u:…`, `g:…`) as its m006 integer."""
    if key.startswith("b") and ":" in key:
        band, _, mixed = key[1:].partition(":")
        return (int(band) << 48) | int(mixed, 16)
    return exact_index(key)


@migrations()
def m007_item_events(db: Database) -> None:
    # Issue 10: a story is an event. Each matched item keeps its event form (JSON, written by
    # bot/stories/forms.py) so that a story's profile can be rebuilt after a restart; its
    # event keys go into story_keys beside the title and URL keys (bot/stories/forms.py
    # puts them in a range of their own). The story index answers "which stories of the
    # last 48 h share a key"; item_events answers "what are their members". No foreign keys:
    # a form is written as its item is placed, before the batch's items and stories rows
    # exist (they go in together afterwards, in the same transaction).
    _run(
        db,
        """
        CREATE TABLE item_events (
            item_id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            form TEXT NOT NULL
        );
        CREATE INDEX item_events_story ON item_events (story_id, at)
        """,
    )


@migrations()
def m008_search(db: Database) -> None:
    # Issue 11: full-text search. A contentless FTS5 index (the items table keeps the text)
    # of each item's title and summary as bot/store/search.py writes them: folded, CJK runs
    # as character bigrams. Items stored before this migration are indexed here.
    from bot.store.search import index_rows

    _run(db, "CREATE VIRTUAL TABLE items_fts USING fts5(title, summary, content='', "
             "tokenize='unicode61 remove_diacritics 2')")
    conn = db.conn
    rows = conn.execute("SELECT id, title, summary FROM items ORDER BY id")
    while chunk := rows.fetchmany(10_000):
        conn.executemany("INSERT INTO items_fts (rowid, title, summary) VALUES (?,?,?)",
                         index_rows(chunk))


@migrations()
def m009_weekly(db: Database) -> None:
    # Issue 11: the weekly brief. A chat opts in with a weekday, a time and a time zone
    # (weekly_since: switching on counts from then, never from a week already over). A brief
    # is a photo (the week's chart) with its caption: the outbox row carries the PNG.
    # weekly_briefs remembers which chat had which week's brief, written in the transaction
    # that queues it, so no week is briefed twice, across restarts included. Briefs and
    # trends read a period's stories: stories_created spares them a scan of every story.
    _run(
        db,
        """
        ALTER TABLE subscribers ADD COLUMN weekly_day INTEGER;
        ALTER TABLE subscribers ADD COLUMN weekly_at TEXT;
        ALTER TABLE subscribers ADD COLUMN weekly_tz TEXT;
        ALTER TABLE subscribers ADD COLUMN weekly_since TEXT;
        ALTER TABLE outbox ADD COLUMN photo BLOB;
        CREATE TABLE weekly_briefs (
            chat_id INTEGER NOT NULL,
            week TEXT NOT NULL,
            outbox_id INTEGER,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, week)
        ) WITHOUT ROWID;
        CREATE INDEX stories_created ON stories (created)
        """,
    )


@migrations()
def m010_web_views(db: Database) -> None:
    # Issue 12: `newsbot web` (Datasette) shows stories as a page with facets and search. A
    # Datasette page with facets is a table or a view of the database it serves, and the web
    # process never writes: so the view is made here, by the bot. One row per matched item
    # (a source of a story), its entities and lists as JSON arrays (array facets); rows are
    # keyed by item id, the rowid of items_fts, so the page searches that index.
    _run(
        db,
        """
        CREATE VIEW story_sources AS
        SELECT i.id AS id,
               i.title AS title,
               i.link AS link,
               i.feed AS feed,
               i.lang AS lang,
               i.first_seen AS seen,
               i.published AS published,
               i.story_id AS story,
               s.items AS sources,
               (SELECT json_group_array(entity) FROM (SELECT DISTINCT h.entity FROM hits h
                 WHERE h.item_id = i.id AND h.list != '' ORDER BY h.entity)) AS entities,
               (SELECT json_group_array(list) FROM (SELECT DISTINCT h.list FROM hits h
                 WHERE h.item_id = i.id AND h.list != '' ORDER BY h.list)) AS lists
        FROM items i LEFT JOIN stories s ON s.id = i.story_id
        WHERE i.matched = 1
        """,
    )


@migrations()
def m011_filings(db: Database) -> None:
    # Issue 13: the CAC's filing registry as a source. A filing is kept once, by its filing
    # number, else by filer + algorithm (`identity`, written by bot/store/filings.py); a
    # re-published list updates it. Batches are (kind, label). filing_hits are the watched
    # entities a filer's name names. filing_alerts records, per batch and chat, the last
    # filing already queued to that chat: a re-poll or a restart queues nothing again, a
    # longer version of the batch only its new filings. (009 and 010 are other work's.)
    _run(
        db,
        """
        CREATE TABLE filing_batches (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            label TEXT NOT NULL,
            date TEXT,
            title TEXT,
            source TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (kind, label)
        );
        CREATE TABLE filings (
            id INTEGER PRIMARY KEY,
            identity TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            batch_id INTEGER NOT NULL REFERENCES filing_batches(id),
            number TEXT,
            algorithm TEXT NOT NULL,
            role TEXT NOT NULL,
            filer TEXT NOT NULL,
            product TEXT NOT NULL,
            purpose TEXT NOT NULL,
            note TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE INDEX filings_batch ON filings (batch_id, id);
        CREATE INDEX filings_filer ON filings (filer);
        CREATE TABLE filing_hits (
            filing_id INTEGER NOT NULL REFERENCES filings(id),
            entity TEXT NOT NULL,
            list TEXT NOT NULL,
            alias TEXT NOT NULL,
            PRIMARY KEY (filing_id, entity)
        ) WITHOUT ROWID;
        CREATE INDEX filing_hits_entity ON filing_hits (entity, filing_id);
        CREATE TABLE filing_alerts (
            batch_id INTEGER NOT NULL REFERENCES filing_batches(id),
            chat_id INTEGER NOT NULL,
            through_id INTEGER NOT NULL,
            messages INTEGER NOT NULL DEFAULT 0,
            updated TEXT NOT NULL,
            PRIMARY KEY (batch_id, chat_id)
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m012_chat_language(db: Database) -> None:
    # Issue 14: a chat reads newsbot in English or Chinese (its user's Telegram language at
    # /start, or its /lang); NULL: never said, English.
    _run(db, "ALTER TABLE subscribers ADD COLUMN lang TEXT")


@migrations()
def m013_mutes(db: Database) -> None:
    # Issue 14: a chat mutes an entity for a while (the alert's "Mute … 7 d" button); its
    # alerts skip the chat until `until`. One row per chat and entity; lifting deletes it.
    _run(
        db,
        """
        CREATE TABLE mutes (
            chat_id INTEGER NOT NULL,
            entity TEXT NOT NULL,
            until TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, entity)
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m014_channels_and_topics(db: Database) -> None:
    # Issue 14: a channel is added from a private chat by one of its administrators
    # (/channel add): `added_by` is that user, `username` the channel's @name, both for
    # /channel list. In a forum supergroup each followed list or entity may have its own
    # topic: chat_topics says which thread a chat's alerts about a scope go to (none: General).
    _run(
        db,
        """
        ALTER TABLE subscribers ADD COLUMN added_by INTEGER;
        ALTER TABLE subscribers ADD COLUMN username TEXT;
        CREATE INDEX subscribers_added_by ON subscribers (added_by) WHERE added_by IS NOT NULL;
        CREATE TABLE chat_topics (
            chat_id INTEGER NOT NULL,
            scope TEXT NOT NULL,
            thread_id INTEGER NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (chat_id, scope)
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m015_title_forms(db: Database) -> None:
    # Issue 10: each item's title as the story lookup compares it (bot/stories/keys.py
    # pack_form), written when the item is stored. A lookup's candidates are older items;
    # reading their folded titles is several times cheaper than folding them again, which
    # cost a template-heavy cycle's writer a quarter of its time. Items stored before this
    # migration have none and are folded from their title. No foreign key, as item_events.
    _run(
        db,
        """
        CREATE TABLE title_forms (
            item_id INTEGER PRIMARY KEY,
            form TEXT NOT NULL
        )
        """,
    )


@migrations()
def m016_title_forms_feed(db: Database) -> None:
    # Issue 10: the writer's story lookup needs of a candidate only its folded title and its
    # feed (titles join items of other feeds). Reading the feed from `items` meant one random
    # read of a wide row (title, summary, link …) per candidate: in a cold template-heavy
    # cycle of 30,000 items, 6 % of the writer's time. With the feed beside the form, a
    # lookup reads only this table's narrow rows. Rows written before have no feed and are
    # read through `items` as before.
    _run(db, "ALTER TABLE title_forms ADD COLUMN feed TEXT")
