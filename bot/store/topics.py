"""Forum topics: in a forum supergroup, the topic (message thread) each followed list or
entity's alerts go to. A scope without a topic goes to General."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from bot.models import Hit
from bot.store.db import Db, chunks, marks, ts
from bot.store.outbox import queue_texts


def thread_for(hits: Iterable[Hit], routes: Mapping[str, int]) -> int | None:
    """The topic an alert with these hits goes to in a chat with these routes (scope →
    thread); None: General.

    An entity's own topic wins over its list's (the narrower choice was made on purpose);
    among several, the first hit's, hits being ordered by list then entity.
    """
    if not routes:
        return None
    listed = [h for h in hits if h.list]
    for scope in [h.entity for h in listed] + [h.list for h in listed]:
        if scope in routes:
            return routes[scope]
    return None


class Topics:
    """The chat_topics table."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def route(self, chat_id: int, scope: str, thread_id: int | None, now: datetime) -> None:
        """Send a chat's alerts about `scope` to a topic (None: back to General)."""
        with self.db.tx() as conn:
            if thread_id is None:
                conn.execute("DELETE FROM chat_topics WHERE chat_id = ? AND scope = ?",
                             [chat_id, scope])
                return
            conn.execute(
                """INSERT INTO chat_topics (chat_id, scope, thread_id, updated) VALUES (?,?,?,?)
                   ON CONFLICT (chat_id, scope) DO UPDATE SET thread_id = excluded.thread_id,
                   updated = excluded.updated""",
                [chat_id, scope, thread_id, ts(now)],
            )

    def threads(self, deliveries: Sequence[tuple[int, Iterable[Hit]]]) -> list[int | None]:
        """The topic of each (chat, an alert's hits) delivery (None: General)."""
        routes = self.of_chats(chat for chat, _ in deliveries)
        return [thread_for(hits, routes.get(chat, {})) for chat, hits in deliveries]

    def of_chat(self, chat_id: int) -> dict[str, int]:
        """A chat's routes: scope → thread."""
        return self.of_chats([chat_id]).get(chat_id, {})

    def of_chats(self, chat_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """The routes of these chats: chat → scope → thread (chats without any left out)."""
        routes: dict[int, dict[str, int]] = {}
        for chunk in chunks(sorted(set(chat_ids))):
            rows = self.db.rows(f"SELECT chat_id, scope, thread_id FROM chat_topics "
                                f"WHERE chat_id IN ({marks(chunk)})", chunk)
            for r in rows:
                routes.setdefault(int(str(r["chat_id"])), {})[str(r["scope"])] = int(
                    str(r["thread_id"]))
        return routes

    def forget_thread(self, chat_id: int, thread_id: int, now: datetime,
                      notice: Callable[[Sequence[str]], str]) -> list[str]:
        """A topic is gone: its scopes go back to General and the chat is told, once.

        In one transaction the routes to the thread are dropped and, if there were any,
        `notice(scopes)` (Telegram HTML) is queued for the chat; returns those scopes, so a
        second send into the same dead topic finds none and tells nobody again.
        """
        with self.db.tx() as conn:
            scopes = [row[0] for row in conn.execute(
                """DELETE FROM chat_topics WHERE chat_id = ? AND thread_id = ?
                   RETURNING scope""", [chat_id, thread_id]).fetchall()]
            if scopes:
                scopes.sort()
                queue_texts(conn, [(chat_id, notice(scopes))], now)
        return scopes
