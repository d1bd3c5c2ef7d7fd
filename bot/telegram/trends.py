"""/trends: its arguments read, the period counted and drawn, the caption in the chat's
language. Pure but for `trend_chart`, which reads the store and draws (run it in a thread)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.render.i18n import EN, Tr
from bot.render.trends import Trend, caption, period_trend


def usage(tr: Tr) -> str:
    """The /trends usage line with examples."""
    return tr._("Usage: /trends [7d|30d|90d] [list|entity…] — e.g. /trends 30d, "
                "/trends 90d zhipu baidu, /trends 7d llm")


def resolve(watchlists: Any, word: str) -> tuple[str, str] | None:
    """('list'|'entity', id) for a list id, entity id or entity name, case-insensitively."""
    key = word.strip().casefold()
    for wl in watchlists.lists:
        if wl.id.casefold() == key:
            return "list", wl.id
    for wl in watchlists.lists:
        for e in wl.entities:
            names = [e.id, e.name, getattr(e, "zh", None) or ""]
            if any(n and n.casefold() == key for n in names):
                return "entity", e.id
    return None


def parse_trends_args(args: Sequence[str], watchlists: Any, tr: Tr = EN
                      ) -> tuple[int, str | None, list[str]] | str:
    """(days, list id, entity ids) of /trends arguments, or the reply that explains them."""
    days, list_id, entities = 30, None, []
    for word in args:
        if m := re.fullmatch(r"(\d{1,3})d", word.strip().lower()):
            days = int(m.group(1))
            if not 1 <= days <= 365:
                return tr._("{word}: a period from 1d to 365d.").format(word=word) + "\n" + usage(tr)
            continue
        found = resolve(watchlists, word)
        if found is None:
            return (tr._("{word}: not a period, list or entity (see /lists).").format(word=word)
                    + "\n" + usage(tr))
        kind, ident = found
        if kind == "list":
            list_id = ident
        elif ident not in entities:
            entities.append(ident)
    return days, list_id, entities


def trend_chart(store: Any, watchlists: Any, days: int, list_id: str | None,
                entities: Sequence[str], now: datetime,
                tr: Tr = EN) -> tuple[Trend, bytes | None]:
    """The trend of the period and its PNG chart (None when the period has no story).
    Blocking (SQLite, matplotlib): run it off the event loop."""
    from bot.render.chart import draw_trend

    def name(entity_id: str) -> str:
        return tr.name(watchlists.entity(entity_id), entity_id)

    trend = period_trend(
        lambda a, b: store.stories.entity_days(a, b, list_id=list_id, entities=entities),
        days=days, now=now, entities=entities, name=name)
    if not any(s.total for s in trend.series):
        return trend, None
    scope = ", ".join(name(e) for e in entities) or list_id or tr._("top entities")
    title = tr._("Stories per entity, last {days} days ({scope})").format(days=days, scope=scope)
    return trend, draw_trend(trend, title, tr)


def trends_caption(trend: Trend, days: int, tr: Tr = EN) -> str:
    """The photo's caption: the figures against the period before."""
    return (tr._("Last {days} days, stories (change against the {days} before):").format(days=days)
            + "\n" + caption(trend, tr))


def empty_period(days: int, list_id: str | None, entities: Sequence[str], tr: Tr = EN) -> str:
    """What /trends says when the period has no story: no empty chart."""
    if entities:
        return tr._("No stories in the last {days} days for {scope}.").format(
            days=days, scope=", ".join(entities))
    if list_id:
        return tr._("No stories in the last {days} days in {scope}.").format(days=days,
                                                                            scope=list_id)
    return tr._("No stories in the last {days} days.").format(days=days)
