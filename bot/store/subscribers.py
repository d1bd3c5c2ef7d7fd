"""Subscribers: the chats that receive alerts, what they follow, and when they go away."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.models import Hit
from bot.store.db import Db, from_ts, ts


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
    muted: frozenset[str] = frozenset()  # entities muted now (Subscribers.active(now))

    def wants(self, hits: Iterable[Hit]) -> bool:
        """True when this chat follows a list or entity of these (listed) hits that it has
        not muted: an alert about muted entities only skips the chat."""
        listed = [h for h in hits if h.list and h.entity not in self.muted]
        if not listed:
            return not self.muted and not self.follows
        if not self.follows:
            return True
        wanted = set(self.follows)
        return any(h.list in wanted or h.entity in wanted for h in listed)


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

    def active(self, now: datetime | None = None) -> list[Subscriber]:
        """Every active chat, by chat id, with the entities it has muted at `now`."""
        rows = self.db.rows("SELECT * FROM subscribers WHERE active = 1 ORDER BY chat_id")
        muted: dict[int, set[str]] = {}
        for r in self.db.rows("SELECT chat_id, entity FROM mutes WHERE until > ?",
                              [ts(now or datetime.now(UTC))]):
            muted.setdefault(int(r["chat_id"]), set()).add(str(r["entity"]))  # type: ignore[call-overload]
        return [replace(subscriber_from_row(r), muted=frozenset(muted.get(int(r["chat_id"]), ())))  # type: ignore[call-overload]
                for r in rows]

    def mute(self, chat_id: int, entity: str, until: datetime, now: datetime) -> None:
        """Mute an entity in a chat until `until` (a later mute replaces an earlier one)."""
        with self.db.tx() as conn:
            conn.execute(
                """INSERT INTO mutes (chat_id, entity, until, created) VALUES (?,?,?,?)
                   ON CONFLICT (chat_id, entity) DO UPDATE SET until = excluded.until""",
                [chat_id, entity, ts(until), ts(now)])

    def unmute(self, chat_id: int, entity: str) -> bool:
        """Lift a chat's mute of an entity; True when there was one."""
        with self.db.tx() as conn:
            return conn.execute("DELETE FROM mutes WHERE chat_id = ? AND entity = ?",
                                [chat_id, entity]).rowcount > 0

    def mutes(self, chat_id: int, now: datetime) -> list[tuple[str, datetime]]:
        """A chat's mutes in force at `now`: (entity, until), soonest lifted first."""
        rows = self.db.rows("""SELECT entity, until FROM mutes WHERE chat_id = ? AND until > ?
                               ORDER BY until, entity""", [chat_id, ts(now)])
        return [(str(r["entity"]), from_ts(r["until"])) for r in rows]  # type: ignore[misc, arg-type]


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
