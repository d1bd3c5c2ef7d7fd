"""The weekly brief: who wants one and when, the week's figures, and queueing it once.

A chat opts in with a weekday, a time and a time zone. Each week it is due once, at that
moment; `queue` writes the brief's outbox row (a photo with its caption) together with a
`weekly_briefs` row keyed by (chat, ISO week), so a week is never briefed twice, however
often the bot restarts or asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.schedule import week_label, weekly_moment
from bot.store.db import Db, from_ts, marks, ts
from bot.store.stories import Stories
from bot.store.subscribers import Subscriber, subscriber_from_row

TOP_PER_LIST = 3


@dataclass(frozen=True, slots=True)
class DueBrief:
    """A chat whose weekly brief is due: the moment it was due and the week it is for."""

    chat: Subscriber
    moment: datetime
    week: str


@dataclass(frozen=True, slots=True)
class TopStory:
    """One of a list's most told stories of the week."""

    story_id: int
    title: str
    link: str | None
    sources: int


class Weekly:
    """Weekly brief settings (subscribers' weekly_* columns), due briefs and the week's data."""

    def __init__(self, db: Db, stories: Stories) -> None:
        self.db = db
        self._stories = stories

    def set(self, chat_id: int, day: int | None, at: str | None, tz: str, now: datetime) -> None:
        """Switch a chat's brief on (weekday, "HH:MM" in `tz`) or off (`day` None).

        Switching on counts from `now`: the first brief comes at the next such moment, never
        for a week whose moment is already past."""
        with self.db.tx() as conn:
            conn.execute(
                """UPDATE subscribers SET weekly_day = ?, weekly_at = ?, weekly_tz = ?,
                   weekly_since = ?, updated = ? WHERE chat_id = ?""",
                [day, at if day is not None else None, tz, ts(now), ts(now), chat_id])

    def due(self, now: datetime) -> list[DueBrief]:
        """Active chats whose weekly moment has come since they switched on, and whose brief
        for that week is not queued yet."""
        rows = self.db.rows(
            """SELECT s.*, (SELECT group_concat(b.week) FROM weekly_briefs b
                            WHERE b.chat_id = s.chat_id) AS briefed
               FROM subscribers s WHERE s.active = 1 AND s.weekly_day IS NOT NULL
               ORDER BY s.chat_id""")
        due = []
        for r in rows:
            chat = subscriber_from_row(r)
            moment = weekly_moment(chat.weekly_day, chat.weekly_at or "", chat.weekly_tz, now)  # type: ignore[arg-type]
            since = from_ts(r["weekly_since"])  # type: ignore[arg-type]
            if moment is None or (since is not None and moment < since):
                continue
            week = week_label(moment, chat.weekly_tz)
            if week not in str(r["briefed"] or "").split(","):
                due.append(DueBrief(chat, moment, week))
        return due

    def queue(self, chat_id: int, week: str, caption_html: str, photo: bytes | None,
              now: datetime) -> bool:
        """Queue a chat's brief for `week` (a photo and its caption, or text alone), unless
        that week's brief was queued before; one transaction. True when queued now."""
        with self.db.tx() as conn:
            claimed = conn.execute(
                """INSERT INTO weekly_briefs (chat_id, week, created) VALUES (?,?,?)
                   ON CONFLICT DO NOTHING""", [chat_id, week, ts(now)]).rowcount
            if not claimed:
                return False
            outbox_id = conn.execute(
                """INSERT INTO outbox (chat_id, text, photo, next_try, created)
                   VALUES (?,?,?,?,?)""",
                [chat_id, caption_html, photo, ts(now), ts(now)]).lastrowid
            conn.execute("UPDATE weekly_briefs SET outbox_id = ? WHERE chat_id = ? AND week = ?",
                         [outbox_id, chat_id, week])
        return True

    # -- the week's figures (read by bot/run/weekly.py)
    def story_count(self, since: datetime, until: datetime, scope: Sequence[str] = ()) -> int:
        """Stories first seen in [since, until) that a watchlist matched (in `scope`: lists or
        entities, any of them; empty: everything)."""
        where, params = _scoped(since, until, scope)
        rows = self.db.rows(
            f"""SELECT COUNT(DISTINCT s.id) AS n FROM stories s
                JOIN items i ON i.story_id = s.id JOIN hits h ON h.item_id = i.id
                WHERE {where}""", params)
        return int(rows[0]["n"])  # type: ignore[call-overload]

    def top_stories(self, since: datetime, until: datetime, scope: Sequence[str] = (),
                    per_list: int = TOP_PER_LIST) -> dict[str, list[TopStory]]:
        """Per list, its `per_list` stories of [since, until) told by the most sources
        (newest first among equals)."""
        where, params = _scoped(since, until, scope)
        rows = self.db.rows(
            f"""SELECT DISTINCT h.list AS list, s.id AS story_id, s.title AS title,
                       s.created AS created, f.link AS link
                FROM stories s JOIN items i ON i.story_id = s.id JOIN hits h ON h.item_id = i.id
                JOIN items f ON f.id = s.first_item_id
                WHERE {where}""", params)
        sources = self._stories.sources(sorted({int(r["story_id"]) for r in rows}))  # type: ignore[call-overload]
        per: dict[str, list[tuple[int, str, TopStory]]] = {}
        for r in rows:
            sid = int(r["story_id"])  # type: ignore[call-overload]
            story = TopStory(sid, str(r["title"]), r["link"], sources.get(sid, 1))  # type: ignore[arg-type]
            per.setdefault(str(r["list"]), []).append((story.sources, str(r["created"]), story))
        # most sources first, then the newest (ISO times sort as text)
        return {lst: [s for _, _, s in sorted(found, key=lambda t: t[:2], reverse=True)[:per_list]]
                for lst, found in sorted(per.items())}

    def first_seen(self, entities: Sequence[str], since: datetime) -> list[str]:
        """Those of `entities` that no item first seen before `since` matched."""
        new = []
        for entity in entities:
            older = self.db.rows(
                """SELECT 1 FROM hits h JOIN items i ON i.id = h.item_id
                   WHERE h.entity = ? AND h.list != '' AND i.first_seen < ? LIMIT 1""",
                [entity, ts(since)])
            if not older:
                new.append(entity)
        return new


def _scoped(since: datetime, until: datetime, scope: Sequence[str]) -> tuple[str, list[object]]:
    """The WHERE clause of a week's matched stories, within a chat's follows."""
    where = "s.created >= ? AND s.created < ? AND h.list != ''"
    params: list[object] = [ts(since), ts(until)]
    if scope:
        where += f" AND (h.list IN ({marks(scope)}) OR h.entity IN ({marks(scope)}))"
        params += [*scope, *scope]
    return where, params
