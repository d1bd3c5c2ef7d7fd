"""The only SQLite user, split by what it keeps; `Store` opens it and hands out the parts.

    store.feeds        feed state: validators, errors, next poll, health   (feeds.py)
    store.items        items and their hits                                 (items.py)
    store.stories      stories, their index and sources; /recent            (stories.py)
    store.outbox       deliveries: due, sent, retried, failed; notices      (outbox.py)
    store.subscribers  chats, follows, deactivation                         (subscribers.py)
    store.digests      digest mode: held rows and their release             (digests.py)
    store.events       event forms, candidate stories by event key, profiles (events.py)
    store.search       full-text search, Chinese words included              (search.py)
    store.weekly       weekly briefs: who, when, the week's figures, once    (weekly.py)
    store.intake       a poll's new items → items, stories, alerts, outbox  (intake.py)
    store.filings      the CAC registry: batches, filings, batch alerts      (filings.py)
    store.channels     channels added by their admins from a private chat   (channels.py)
    store.topics       forum topics: which thread a chat's alerts go to     (topics.py)

All parts share one connection and one lock (`store.db`, db.py); the schema and its
migrations live in schema.py. Callers name the part they use: `store.outbox.due(now)`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.errors import StoreError
from bot.store.channels import Channel, Channels
from bot.store.db import Db
from bot.store.digests import Digests, HeldItem
from bot.store.events import Events
from bot.store.feeds import FeedHealth, Feeds, FeedState, FetchRecord, HealthInput
from bot.store.filings import (
    BatchInfo,
    BatchNews,
    FilingOutcome,
    Filings,
    MatchedFiling,
    StoredBatch,
    StoredFiling,
)
from bot.store.intake import Intake, NewItem, PollOutcome, PollRecord, Recorded
from bot.store.items import Items, StoredItem
from bot.store.outbox import Outbox, OutboxJob
from bot.store.schema import migrations
from bot.store.search import Search
from bot.store.stories import Source, Stories
from bot.store.subscribers import Subscriber, Subscribers
from bot.store.topics import Topics
from bot.store.weekly import Weekly

__all__ = [
    "BatchInfo", "BatchNews", "Channel", "FeedHealth", "FeedState", "FetchRecord", "FilingOutcome",
    "HealthInput", "HeldItem", "MatchedFiling", "NewItem", "OutboxJob", "PollOutcome",
    "PollRecord", "Recorded", "Source", "Store", "StoredBatch", "StoredFiling", "StoredItem",
    "Subscriber",
]


class Store:
    """An opened, migrated database and its parts (thread-safe: one lock, one connection)."""

    def __init__(self, path: Path | str) -> None:
        self.db = Db(path)
        try:
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{self.db.path}: cannot open database: {exc}") from exc
        self.path = self.db.path
        self.feeds = Feeds(self.db)
        self.items = Items(self.db)
        self.stories = Stories(self.db, self.items)
        self.topics = Topics(self.db)
        self.outbox = Outbox(self.db, self.items, self.stories, self.topics)
        self.subscribers = Subscribers(self.db)
        self.digests = Digests(self.db, self.items, self.stories)
        self.search = Search(self.db, self.items)
        self.events = Events(self.db)
        self.weekly = Weekly(self.db, self.stories)
        self.intake = Intake(self.db, self.stories, self.subscribers, self.events)
        self.filings = Filings(self.db, self.subscribers)
        self.channels = Channels(self.db, self.subscribers)

    def close(self) -> None:
        self.db.close()

    def stats(self) -> dict[str, int]:
        """Counts across the store, for /stats: chats, items, alerts, feeds, outbox states."""
        row = self.db.rows(
            """SELECT (SELECT COUNT(*) FROM subscribers) AS subscribers,
                      (SELECT COUNT(*) FROM subscribers WHERE active = 1) AS active_subscribers,
                      (SELECT COUNT(*) FROM items) AS items,
                      (SELECT COUNT(*) FROM items WHERE matched = 1) AS matched_items,
                      (SELECT COUNT(*) FROM alerts) AS alerts,
                      (SELECT COUNT(*) FROM feed_state) AS feeds"""
        )[0]
        stats = {k: int(v) for k, v in row.items()}  # type: ignore[call-overload]
        stats.update(self.outbox.counts())
        return stats
