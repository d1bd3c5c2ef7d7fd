"""Subscribers: the chats that receive alerts, what they follow, and when they go away."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.models import Hit
from bot.store.db import Db, ts


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
    weekly_day: int | None = None  # 0 (Monday)…6: the weekly brief's day; None: no brief
    weekly_at: str | None = None  # "HH:MM" in weekly_tz
    weekly_tz: str = "UTC"
    lang: str | None = None  # "zh" or "en": what the chat reads; None: not said (English)

    def wants(self, hits: Iterable[Hit]) -> bool:
        """True when this chat follows a list or entity of these (listed) hits."""
        if not self.follows:
            return True
        wanted = set(self.follows)
        return any(h.list in wanted or h.entity in wanted for h in hits if h.list)


class Subscribers:
    """The subscribers table."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def subscribe(self, chat_id: int, kind: str, title: str | None, now: datetime, *,
                  lang: str | None = None) -> bool:
        """Subscribe a chat; True when it is new or was inactive. `lang` (its user's
        language) is the chat's language unless it chose one before (/lang)."""
        with self.db.tx() as conn:
            row = conn.execute(
                "SELECT active FROM subscribers WHERE chat_id = ?", [chat_id]
            ).fetchone()
            if row is None:
                conn.execute(
                    """INSERT INTO subscribers (chat_id, kind, title, active, created, updated,
                       lang) VALUES (?,?,?,1,?,?,?)""",
                    [chat_id, kind, title, ts(now), ts(now), lang],
                )
                return True
            if lang:
                conn.execute("UPDATE subscribers SET lang = COALESCE(lang, ?) WHERE chat_id = ?",
                             [lang, chat_id])
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
        with self.db.tx() as conn:
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

    def get(self, chat_id: int) -> Subscriber | None:
        rows = self.db.rows("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id])
        return subscriber_from_row(rows[0]) if rows else None

    def set_follows(self, chat_id: int, follows: Sequence[str],
                    now: datetime | None = None) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE subscribers SET follows = ?, updated = ? WHERE chat_id = ?",
                [json.dumps(sorted(set(follows))), ts(now or datetime.now(UTC)), chat_id],
            )

    def set_lang(self, chat_id: int, lang: str, now: datetime) -> None:
        """The language a chat reads ("zh", "en")."""
        with self.db.tx() as conn:
            conn.execute("UPDATE subscribers SET lang = ?, updated = ? WHERE chat_id = ?",
                         [lang, ts(now), chat_id])

    def active(self) -> list[Subscriber]:
        """Every active chat, by chat id."""
        rows = self.db.rows("SELECT * FROM subscribers WHERE active = 1 ORDER BY chat_id")
        return [subscriber_from_row(r) for r in rows]


def subscriber_from_row(r: dict[str, object]) -> Subscriber:
    return Subscriber(
        chat_id=int(r["chat_id"]), kind=str(r["kind"]), title=r["title"],  # type: ignore[arg-type]
        active=bool(r["active"]), follows=tuple(json.loads(str(r["follows"]))),
        digest_at=r.get("digest_at"),  # type: ignore[arg-type]
        digest_tz=str(r.get("digest_tz") or "UTC"),
        weekly_day=r.get("weekly_day"),  # type: ignore[arg-type]
        weekly_at=r.get("weekly_at"),  # type: ignore[arg-type]
        weekly_tz=str(r.get("weekly_tz") or r.get("digest_tz") or "UTC"),
        lang=r.get("lang"),  # type: ignore[arg-type]
    )
