"""The outbox: one row per message to deliver (an alert, a "+N sources" edit, a notice, a
weekly brief's chart with its caption).

A row is queued in the transaction that decides to send it and stays `pending` until the
delivery worker marks it `sent`, so a crash neither loses nor (beyond the messages in
flight) repeats one. Rows of chats in digest mode wait as `held` until their digest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.db import Db, chunks, from_ts, marks, ts
from bot.store.items import Items, StoredItem
from bot.store.stories import Source, Stories

# Telegram counts edits against the chat's limits: one story's message is edited at most
# once per this many seconds, however many sources arrive (the edit shows them all).
EDIT_EVERY = timedelta(seconds=60)


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
    photo: bytes | None = None  # a weekly brief's chart: `text` is then its caption
    lang: str | None = None  # the chat's language: alerts are framed in it
    muted: frozenset[str] = frozenset()  # entities the chat has muted now (its buttons say)
    thread_id: int | None = None  # a forum's topic for this alert (None: General, or no forum)


class Outbox:
    """The delivery worker's side of the outbox, and notices."""

    def __init__(self, db: Db, items: Items, stories: Stories, topics: Any = None) -> None:
        self.db = db
        self._items = items
        self._stories = stories
        self._topics = topics  # bot.store.topics.Topics: which forum topic an alert goes to

    def due(self, now: datetime, limit: int = 100) -> list[OutboxJob]:
        """Pending deliveries whose time has come, oldest first."""
        rows = self.db.rows(
            """SELECT o.id, o.alert_id, o.chat_id, o.attempts, o.text, o.kind, o.photo,
                      s.kind AS chat_kind, s.lang AS chat_lang, a.item_id, a.story_id,
                      (SELECT m.message_id FROM outbox m WHERE m.alert_id = o.alert_id
                         AND m.chat_id = o.chat_id AND m.kind = 'send') AS edit_of
               FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id
               LEFT JOIN subscribers s ON s.chat_id = o.chat_id
               WHERE o.state = 'pending' AND o.next_try <= ?
               ORDER BY o.next_try, o.id LIMIT ?""",
            [ts(now), limit],
        )
        items = self._items.by_ids({r["item_id"] for r in rows if r["item_id"] is not None})
        sources = self._stories.other_sources({(r["story_id"], r["item_id"]) for r in rows
                                               if r["story_id"] is not None})
        muted: dict[int, set[str]] = {}
        chats = sorted({int(r["chat_id"]) for r in rows if r["item_id"] is not None})  # type: ignore[call-overload]
        for chunk in chunks(chats):
            for m in self.db.rows(f"""SELECT chat_id, entity FROM mutes WHERE until > ?
                                      AND chat_id IN ({marks(chunk)})""", [ts(now), *chunk]):
                muted.setdefault(int(m["chat_id"]), set()).add(str(m["entity"]))  # type: ignore[call-overload]
        # Only a new alert message needs a topic: an edit targets the sent message, a
        # notice, digest or brief goes to General.
        sends = [r for r in rows if r["kind"] == "send" and items.get(r["item_id"]) is not None]
        threads: dict[object, int | None] = {}
        if self._topics is not None and sends:
            found = self._topics.threads([(r["chat_id"], items[r["item_id"]].hits)
                                          for r in sends])
            threads = {r["id"]: thread for r, thread in zip(sends, found, strict=True)}
        return [
            OutboxJob(
                id=r["id"], alert_id=r["alert_id"], chat_id=r["chat_id"],
                chat_kind=r["chat_kind"] or "private", attempts=r["attempts"],
                item=items.get(r["item_id"]), text=r["text"], kind=r["kind"],
                edit_message_id=r["edit_of"] if r["kind"] == "edit" else None,
                sources=sources.get((r["story_id"], r["item_id"]), ()), photo=r["photo"],
                lang=r["chat_lang"], muted=frozenset(muted.get(r["chat_id"], ())),  # type: ignore[call-overload]
                thread_id=threads.get(r["id"]),
            )  # type: ignore[arg-type]
            for r in rows
        ]

    def enqueue_notice(self, chat_ids: Sequence[int], html: str, now: datetime) -> int:
        """Queue an admin notice (Telegram HTML) for these chats; returns rows queued."""
        with self.db.tx() as conn:
            queue_texts(conn, [(chat, html) for chat in chat_ids], now)
        return len(chat_ids)

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery becomes due (None when the outbox is empty)."""
        rows = self.db.rows("SELECT MIN(next_try) AS t FROM outbox WHERE state = 'pending'")
        return from_ts(rows[0]["t"])  # type: ignore[arg-type]

    def mark_sent(self, outbox_id: int, message_id: int | None, now: datetime) -> None:
        with self.db.tx() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?,
                   attempts = attempts + 1 WHERE id = ?""",
                [message_id, ts(now), outbox_id],
            )

    def mark_retry(self, outbox_id: int, next_try: datetime, error: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                """UPDATE outbox SET attempts = attempts + 1, next_try = ?, last_error = ?
                   WHERE id = ?""",
                [ts(next_try), error, outbox_id],
            )

    def postpone_chat(self, chat_id: int, next_try: datetime) -> None:
        """Delay every pending delivery of one chat (after a 429 for that chat)."""
        with self.db.tx() as conn:
            conn.execute(
                """UPDATE outbox SET next_try = MAX(next_try, ?)
                   WHERE chat_id = ? AND state = 'pending'""",
                [ts(next_try), chat_id],
            )

    def mark_failed(self, outbox_id: int, error: str, now: datetime) -> None:
        with self.db.tx() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?,
                   sent_at = ? WHERE id = ?""",
                [error, ts(now), outbox_id],
            )

    def depth(self) -> dict[str, int]:
        """Rows waiting (pending, held): a range of the (state, next_try) index, never the
        sent rows, which only grow. For /metrics, scraped every few seconds."""
        rows = self.db.rows("""SELECT state, COUNT(*) AS n FROM outbox
                               WHERE state IN ('pending', 'held') GROUP BY state""")
        depth = {"pending": 0, "held": 0}
        depth.update({r["state"]: r["n"] for r in rows})  # type: ignore[misc]
        return depth

    def counts(self) -> dict[str, int]:
        """Rows per state (pending, sent, failed always present)."""
        rows = self.db.rows("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})  # type: ignore[misc]
        return counts


def queue_alert(conn: sqlite3.Connection, alert_id: int, chats: Sequence[tuple[int, bool]],
                now: datetime) -> None:
    """Queue an alert for these (chat, held) pairs, inside the caller's transaction: pending,
    or held for a chat in digest mode."""
    stamp = ts(now)
    conn.executemany(
        """INSERT INTO outbox (alert_id, chat_id, state, next_try, created)
           VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING""",
        [(alert_id, chat_id, "held" if held else "pending", stamp, stamp)
         for chat_id, held in chats],
    )


def queue_texts(conn: sqlite3.Connection, messages: Sequence[tuple[int, str]],
                now: datetime) -> None:
    """Queue ready-made messages (chat, Telegram HTML), inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO outbox (chat_id, text, next_try, created) VALUES (?,?,?,?)",
        [(chat, text, ts(now), ts(now)) for chat, text in messages],
    )


def queue_edits(conn: sqlite3.Connection, alert_id: int, now: datetime) -> int:
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
