"""Weekly briefs: find the chats whose brief is due, gather their week, draw, queue.

A chat's brief covers the seven whole days (in its time zone) before its brief's day, within
what it follows. Chats with the same follows, zone, language and week share one brief: gathered and
drawn once. Queueing is once per chat and ISO week (bot/store/weekly.py), so a restart or a
second look never sends a week twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from bot.render.i18n import EN, Tr, translator
from bot.render.text import RenderedMessage
from bot.render.trends import build_trend
from bot.render.weekly import WeeklyBrief, chart_title, list_titles, render_weekly
from bot.schedule import brief_period, zone_or_utc
from bot.store import Store
from bot.store.weekly import DueBrief

log = logging.getLogger(__name__)

WEEK = timedelta(days=7)
CHART_ENTITIES = 6


def gather_brief(store: Store, watchlists: Any, due: DueBrief, tr: Tr = EN) -> WeeklyBrief:
    """The figures of a due chat's week, entities named in the chat's language (blocking:
    SQLite)."""
    tz = due.chat.weekly_tz
    since, until = brief_period(due.moment, tz)
    offset = zone_or_utc(tz).utcoffset(until)
    minutes = int(offset.total_seconds() // 60) if offset else 0
    scope = due.chat.follows

    def days(a: datetime, b: datetime) -> list[tuple[str, str, int]]:
        return store.stories.entity_days(a, b, scope=scope, utc_offset=minutes)

    def name(entity_id: str) -> str:
        return tr.name(watchlists.entity(entity_id), entity_id)

    current = days(since, until)
    first_day = (since + timedelta(minutes=minutes)).date()
    trend = build_trend(current, days(since - WEEK, since), first_day=first_day, days=7,
                        top=CHART_ENTITIES, name=name)
    top = store.weekly.top_stories(since, until, scope)
    seen = sorted({entity for entity, _, _ in current})
    return WeeklyBrief(
        week=due.week, first_day=first_day, last_day=first_day + timedelta(days=6),
        stories=store.weekly.story_count(since, until, scope),
        previous=store.weekly.story_count(since - WEEK, since, scope),
        trend=trend,
        top=list_titles([(w.id, tr.title(w)) for w in watchlists.lists], top),
        new_entities=tuple(name(e) for e in store.weekly.first_seen(seen, since)),
    )


def draw_brief(brief: WeeklyBrief, tr: Tr = EN) -> tuple[RenderedMessage, bytes | None]:
    """The caption and the chart (None for a quiet week: no empty chart)."""
    caption = render_weekly(brief, tr)
    if not brief.stories or not any(s.total for s in brief.trend.series):
        return caption, None
    from bot.render.chart import draw_trend

    return caption, draw_trend(brief.trend, chart_title(brief, tr), tr)


async def send_weeklies(store: Store, watchlists: Any, now: datetime) -> int:
    """Queue the brief of every chat whose weekly moment has come; the briefs queued."""
    queued = 0
    made: dict[tuple[object, ...], tuple[RenderedMessage, bytes | None]] = {}
    for due in await asyncio.to_thread(store.weekly.due, now):
        since, _ = brief_period(due.moment, due.chat.weekly_tz)
        tr = translator(due.chat.lang)
        key = (since, due.chat.weekly_tz, tuple(sorted(due.chat.follows)), tr.lang)
        if key not in made:
            brief = await asyncio.to_thread(gather_brief, store, watchlists, due, tr)
            made[key] = await asyncio.to_thread(draw_brief, brief, tr)
        caption, png = made[key]
        if await asyncio.to_thread(store.weekly.queue, due.chat.chat_id, due.week, caption.html,
                                   png, now):
            queued += 1
            log.info("chat %s: weekly brief for %s queued", due.chat.chat_id, due.week)
    return queued
