"""Channels: a channel cannot send /start, so one of its administrators adds it from a
private chat with the bot (/channel add). A channel is a subscriber of kind "channel"; this
part remembers who added it and its @name, for /channel list and remove."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.store.db import Db, ts
from bot.store.subscribers import Subscribers


@dataclass(frozen=True, slots=True)
class Channel:
    """A subscribed channel as /channel list shows it. Empty `follows` means everything."""

    chat_id: int
    title: str | None
    username: str | None
    follows: tuple[str, ...]
    added_by: int | None

    @property
    def handle(self) -> str:
        """How a reply names it: its @name, else its title, else its id."""
        if self.username:
            return f"@{self.username}"
        return self.title or str(self.chat_id)


class Channels:
    """Channels among the subscribers."""

    def __init__(self, db: Db, subscribers: Subscribers) -> None:
        self.db = db
        self._subscribers = subscribers

    def add(self, chat_id: int, *, title: str | None, username: str | None, added_by: int,
            follows: Sequence[str], lang: str | None, now: datetime) -> bool:
        """Subscribe a channel with these follows (empty: everything), added by this user;
        True when it was not subscribed before."""
        with self.db.tx() as conn:
            new = self._subscribers.subscribe(chat_id, "channel", title, now, lang=lang)
            conn.execute(
                """UPDATE subscribers SET follows = ?, added_by = ?, username = ?, updated = ?
                   WHERE chat_id = ?""",
                [json.dumps(sorted(set(follows))), added_by, username, ts(now), chat_id])
            return new

    def get(self, chat_id: int) -> Channel | None:
        """An active subscribed channel."""
        rows = self.db.rows("""SELECT * FROM subscribers WHERE chat_id = ? AND active = 1
                               AND kind = 'channel'""", [chat_id])
        return _channel(rows[0]) if rows else None

    def added_by(self, user_id: int) -> list[Channel]:
        """The active channels this user added, by title."""
        rows = self.db.rows("""SELECT * FROM subscribers WHERE added_by = ? AND active = 1
                               AND kind = 'channel' ORDER BY title, chat_id""", [user_id])
        return [_channel(r) for r in rows]


def _channel(r: dict[str, object]) -> Channel:
    added_by = r.get("added_by")
    return Channel(chat_id=int(str(r["chat_id"])), title=_text(r.get("title")),
                   username=_text(r.get("username")),
                   follows=tuple(json.loads(str(r["follows"]))),
                   added_by=int(str(added_by)) if added_by is not None else None)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
