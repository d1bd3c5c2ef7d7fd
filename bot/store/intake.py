"""Intake: a poll's new items become items, hits, stories, alerts and outbox rows, at once.

Everything that decides "new item → alert" happens in one transaction (`record_items`):
an item, its hits, its story, its alert and one outbox row per interested chat commit
together or not at all. This is the one place that writes across the store's parts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.models import Feed, Hit, Item
from bot.store.db import Db, chunks, epoch, marks, ts
from bot.store.events import Events
from bot.store.feeds import FetchRecord, write_fetch
from bot.store.items import StoredItem, known_keys
from bot.store.outbox import queue_alert, queue_edits
from bot.store.search import index_rows
from bot.store.stories import Batch, Stories, probe
from bot.store.subscribers import Subscriber, Subscribers
from bot.stories.events import choose_event
from bot.stories.forms import EventForm, event_index_keys
from bot.stories.keys import StoryKeys, choose_story, pack_form


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to record, with the hits the matcher found for it."""

    item: Item
    hits: Sequence[Hit] = field(default_factory=tuple)
    story_keys: StoryKeys | None = None  # computed off the writer when possible
    event: EventForm | None = None  # a matched item read as an event (bot/stories/forms.py)
    event_json: str | None = None  # that form as stored (forms.form_json), if made already

    @property
    def matched(self) -> bool:
        return any(h.list for h in self.hits)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A new item that alerted (kind "alert": queued for `queued` chats) or that joined a
    story already alerted (kind "source": `queued` edits). A source is stored without its
    summary: what reads it (the console's follow-up line, `poll --json`) never shows one,
    and a cold cycle of template feeds keeps ~15,000 of them until it ends."""

    stored: StoredItem
    alert_id: int
    queued: int
    kind: str = "alert"


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


# (new item, its id, its story id, whether it started that story)
Placed = tuple[NewItem, int, int, bool]


class Intake:
    """Records polls: new items into stories, alerts and outbox rows, one transaction each."""

    def __init__(self, db: Db, stories: Stories, subscribers: Subscribers,
                 events: Events) -> None:
        self.db = db
        self._stories = stories
        self._subscribers = subscribers
        self._events = events

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

    def record_polls(self, polls: Sequence[PollRecord]) -> list[PollOutcome | Exception]:
        """Record several feeds' polls (record_items, then the fetch) in one transaction.

        One commit for many feeds: a cold cycle's story index takes its inserts all over
        the b-tree, so each commit writes hundreds of pages; a group shares them. Each poll
        has its own savepoint, so a poll that fails is rolled back alone and its exception
        returned in its place; the others are recorded. Returns, per poll, its outcome or
        its exception.
        """
        out: list[PollOutcome | Exception] = []
        with self.db.tx() as conn:
            for poll in polls:
                try:
                    with self.db.tx():
                        outcome = self._record_items(poll.fetch.feed, poll.items,
                                                     poll.fetch.now, backfill=poll.backfill)
                        write_fetch(conn, poll.fetch)
                except Exception as exc:  # noqa: BLE001 - this feed's failure, not the group's
                    if not conn.in_transaction:  # SQLite gave up the whole transaction
                        raise
                    out.append(exc)
                else:
                    out.append(outcome)
        return out

    def _record_items(
        self, feed: Feed, new_items: Sequence[NewItem], now: datetime, *, backfill: bool
    ) -> PollOutcome:
        try:
            return self._record_new(feed, new_items, now, backfill=backfill)
        except BaseException:
            self._events.forget()  # their caches may hold what the rollback undid
            self._stories.forget()
            raise

    def _record_new(
        self, feed: Feed, new_items: Sequence[NewItem], now: datetime, *, backfill: bool
    ) -> PollOutcome:
        unique: dict[str, NewItem] = {}
        for new in new_items:
            unique.setdefault(new.item.key, new)
        stamp = ts(now)
        with self.db.tx() as conn:
            known = known_keys(conn, feed.name, list(unique))
            fresh = [new for key, new in unique.items() if key not in known]
            if not fresh:
                return PollOutcome(0, [])
            probes = [probe(new.item, new.story_keys, now) for new in fresh]
            found = self._stories.lookup(conn, probes, now, titles=False)
            # Ids are given here, not by INSERT: the whole batch then goes in with executemany.
            # A new story takes the id of its first item (story ids never pass item ids, so
            # the two never collide). An item of a story started in this batch is inserted
            # without it and pointed at it once the story row exists: deferring the foreign
            # keys instead makes SQLite scan child tables on every insert.
            next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM items").fetchone()[0]
            batch = Batch()
            batch_events: dict[int, set[int]] = {}  # event key → stories placed in this batch
            event_index: list[tuple[int, int, int, int]] = []  # story_keys rows of events
            placed: list[Placed] = []
            for offset, (new, keys) in enumerate(zip(fresh, probes, strict=True)):
                item_id = next_id + offset
                candidates = [*found[offset], *batch.candidates(keys)]
                # the same URL/GUID or a near-identical title: the same story, whatever it is
                story_id = choose_story(keys, candidates, feed=feed.name)
                form, stored = None, None
                if new.event is not None and new.matched:
                    form, stored = new.event, new.event_json
                    if form.at != epoch(keys.at):  # read without its time: first seen
                        form, stored = replace(form, at=epoch(keys.at)), None
                event_keys = event_index_keys(form) if form else ()
                vector = self._events.vector(conn, form) if form is not None else None
                if form is not None and story_id is None:
                    story_id = self._event_story(conn, form, vector, event_keys, batch_events)
                is_new = story_id is None
                story_id = item_id if story_id is None else story_id
                batch.add(keys, item_id, story_id, new.item.title, feed.name)
                self._stories.remember(item_id, keys, feed.name)
                if form is not None:
                    self._events.add(conn, item_id, story_id, form, is_new, vector=vector,
                                     stored=stored)
                    for key in event_keys:
                        batch_events.setdefault(key, set()).add(story_id)
                    event_index += [(key, form.at, item_id, story_id) for key in event_keys]
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
            conn.executemany(  # titles as the story lookup compares them (Stories.lookup)
                "INSERT INTO title_forms (item_id, form, feed) VALUES (?,?,?)",
                [(item_id, keys.packed or pack_form(keys.form), feed.name)
                 for (_, item_id, _, _), keys in zip(placed, probes, strict=True)],
            )
            conn.executemany(  # the search index, in the same transaction (store/search.py)
                "INSERT INTO items_fts (rowid, title, summary) VALUES (?,?,?)",
                index_rows([(item_id, new.item.title, new.item.summary)
                            for new, item_id, _, _ in placed]),
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
                 for at in (epoch(keys.at),) for key in keys.index] + event_index,
            )
            self._events.flush(conn)
            return PollOutcome(len(fresh), self._alert(conn, feed, placed, now, backfill=backfill))

    def _event_story(self, conn: sqlite3.Connection, form: EventForm,
                     vector: dict[str, float] | None, keys: Sequence[int],
                     batch_events: dict[int, set[int]]) -> int | None:
        """The story whose happening this item reports (bot/stories/events.py), if any:
        among the stories of the last 48 h that share an event key with it."""
        candidates = self._events.candidates(conn, keys, form.at)
        candidates += [s for key in keys for s in batch_events.get(key, ()) if s not in candidates]
        if not candidates:
            return None
        profiles = self._events.profiles(conn, candidates)
        story_id, _, _ = choose_event(form, profiles, self._events.idf(conn), vector=vector,
                                      explain=False)
        return story_id

    def _alert(
        self, conn: sqlite3.Connection, feed: Feed, placed: Sequence[Placed],
        now: datetime, *, backfill: bool,
    ) -> list[Recorded]:
        """record_items' last step: alert new matched stories, edit alerts of joined ones."""
        stamp = ts(now)
        alerts: dict[int, int] = {}  # story id → its alert id
        joined = sorted({story_id for _, _, story_id, is_new in placed if not is_new})
        for chunk in chunks(joined):
            alerts.update(conn.execute(
                f"SELECT story_id, id FROM alerts WHERE story_id IN ({marks(chunk)})",
                chunk).fetchall())
        subscribers: list[Subscriber] | None = None
        # an alert's edits are queued once per batch: its later new sources in the batch
        # find them pending (queue_edits would return the same count and queue nothing)
        edited: dict[int, int] = {}
        recorded: list[Recorded] = []
        for new, item_id, story_id, _ in placed:
            item = new.item
            alert_id = alerts.get(story_id)
            if alert_id is None and not new.matched:
                continue
            stored = StoredItem(
                id=item_id, feed=feed.name, title=item.title,
                summary=item.summary if alert_id is None else "",
                link=item.link, published=item.published, first_seen=now, lang=item.lang,
                backfill=backfill, hits=tuple(new.hits), story_id=story_id,
            )
            if alert_id is not None:
                edits = edited.get(alert_id)
                if edits is None:
                    edits = edited[alert_id] = queue_edits(conn, alert_id, now)
                recorded.append(Recorded(stored, alert_id, edits, kind="source"))
                continue
            alert_id = conn.execute(
                """INSERT INTO alerts (item_id, created, backfill, story_id)
                   VALUES (?,?,?,?) RETURNING id""",
                [item_id, stamp, int(backfill), story_id],
            ).fetchone()[0]
            alerts[story_id] = alert_id  # a later item of this batch is another source
            if subscribers is None:
                subscribers = [] if backfill else self._subscribers.active(now)
            chats = [s for s in subscribers if s.wants(new.hits)]
            queue_alert(conn, alert_id, [(s.chat_id, bool(s.digest_at)) for s in chats], now)
            recorded.append(Recorded(stored=stored, alert_id=alert_id, queued=len(chats)))
        return recorded
