"""Digests: a chat in digest mode gets its alerts once a day, as one message.

Its outbox rows wait as `held` until the digest releases them (`digested`); releasing
queues the digest and retires the rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.schedule import digest_moment
from bot.store.db import Db, chunks, from_ts, marks, ts
from bot.store.items import Items, StoredItem
from bot.store.outbox import queue_texts
from bot.store.stories import Stories
from bot.store.subscribers import Subscriber, subscriber_from_row


@dataclass(frozen=True, slots=True)
class HeldItem(StoredItem):
    """An item waiting in a chat's digest, with the held outbox row that waits for it."""

    outbox_id: int = 0


class Digests:
    """Digest settings of the subscribers table and the held rows of the outbox."""

    def __init__(self, db: Db, items: Items, stories: Stories) -> None:
        self.db = db
        self._items = items
        self._stories = stories

    def set(self, chat_id: int, at: str | None, tz: str, now: datetime) -> int:
        """Put a chat in digest mode ("HH:MM" in `tz`) or back to immediate alerts (None).

        Switching on counts from `now`: the first digest comes at the next HH:MM, not at once.
        Switching off releases the chat's held rows as ordinary pending alerts, so nothing
        held is lost; returns how many were released.
        """
        with self.db.tx() as conn:
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

    def due_chats(self, now: datetime) -> list[Subscriber]:
        """Active digest chats whose HH:MM has passed today (their time) since their last one."""
        rows = self.db.rows(
            """SELECT * FROM subscribers WHERE active = 1 AND digest_at IS NOT NULL
               ORDER BY chat_id"""
        )
        due = []
        for r in rows:
            moment = digest_moment(r["digest_at"], r["digest_tz"], now)  # type: ignore[arg-type]
            if moment is None or moment > now:
                continue
            last = from_ts(r["last_digest"])  # type: ignore[arg-type]
            if last is None or last < moment:
                due.append(subscriber_from_row(r))
        return due

    def held(self, chat_id: int) -> list[HeldItem]:
        """The items a chat's held rows wait to tell, first seen first: hits, story, sources."""
        rows = self.db.rows(
            """SELECT o.id AS outbox_id, i.* FROM outbox o
               JOIN alerts a ON a.id = o.alert_id JOIN items i ON i.id = a.item_id
               WHERE o.chat_id = ? AND o.state = 'held'
               ORDER BY i.first_seen, i.id, o.id""",
            [chat_id],
        )
        by_id = {s.id: s for s in self._items.with_hits(rows)}
        stories = sorted({r["story_id"] for r in rows if r.get("story_id") is not None})
        feeds = self._stories.sources(stories)  # type: ignore[arg-type]
        out = []
        for r in rows:
            s = by_id[r["id"]]  # type: ignore[index]
            story = r.get("story_id")
            out.append(HeldItem(
                id=s.id, feed=s.feed, title=s.title, summary=s.summary, link=s.link,
                published=s.published, first_seen=s.first_seen, lang=s.lang,
                backfill=s.backfill, hits=s.hits, story_id=story,  # type: ignore[arg-type]
                sources=feeds.get(story, 1) if story is not None else 1,  # type: ignore[arg-type]
                outbox_id=int(r["outbox_id"]),  # type: ignore[arg-type]
            ))
        return out

    def release(
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
        with self.db.tx() as conn:
            if outbox_ids is None:
                conn.execute(
                    """UPDATE outbox SET state = 'digested', sent_at = ?
                       WHERE chat_id = ? AND state = 'held'""",
                    [ts(now), chat_id],
                )
            else:
                taken = 0
                for chunk in chunks(outbox_ids):
                    taken += conn.execute(
                        f"""UPDATE outbox SET state = 'digested', sent_at = ?
                            WHERE chat_id = ? AND state = 'held' AND id IN ({marks(chunk)})""",
                        [ts(now), chat_id, *chunk],
                    ).rowcount
                if outbox_ids and not taken:
                    messages = []
            queue_texts(conn, [(chat_id, text) for text in messages], now)
            conn.execute(
                "UPDATE subscribers SET last_digest = ? WHERE chat_id = ?", [ts(now), chat_id]
            )
        return len(messages)
