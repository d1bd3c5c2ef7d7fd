"""Trends: stories (events, not items) per entity per day or week, and the change against
the previous period. Pure: counts in, figures out; the store counts, render/ shows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.render.i18n import EN, Tr


@dataclass(frozen=True, slots=True)
class Series:
    """One entity's stories per bucket of the period, and its totals now and before."""

    entity: str
    name: str
    counts: tuple[int, ...]  # one per bucket, oldest first
    total: int
    previous: int  # stories in the period just before

    @property
    def change(self) -> int:
        return self.total - self.previous


@dataclass(frozen=True, slots=True)
class Trend:
    """The figures behind a trends chart."""

    buckets: tuple[date, ...]  # first day of each bucket
    bucket_days: int  # 1 (days) or 7 (weeks)
    series: tuple[Series, ...]  # the chosen entities, most stories first


def build_trend(current: Iterable[tuple[str, str, int]], previous: Iterable[tuple[str, str, int]],
                *, first_day: date, days: int, top: int = 8, entities: Sequence[str] = (),
                name: Callable[[str], str] = str) -> Trend:
    """Bucket (entity, day, stories) rows of a period of `days` days from `first_day`.

    Days for periods up to a month, weeks beyond (a 90-day chart of days is unreadable on a
    phone). The named `entities`, else the `top` entities of the period by stories."""
    bucket_days = 1 if days <= 31 else 7
    buckets = tuple(first_day + timedelta(days=d) for d in range(0, days, bucket_days))
    per: dict[str, list[int]] = {}
    for entity, day, n in current:
        index = (date.fromisoformat(day) - first_day).days // bucket_days
        if 0 <= index < len(buckets):
            per.setdefault(entity, [0] * len(buckets))[index] += n
    before: dict[str, int] = {}
    for entity, _, n in previous:
        before[entity] = before.get(entity, 0) + n
    chosen = list(entities) or sorted(per, key=lambda e: (-sum(per[e]), e))[:top]
    series = [Series(e, name(e), tuple(per.get(e, [0] * len(buckets))),
                     sum(per.get(e, ())), before.get(e, 0)) for e in chosen]
    series.sort(key=lambda s: (-s.total, s.entity))
    return Trend(buckets, bucket_days, tuple(series))


EntityDays = Callable[[datetime, datetime], Iterable[tuple[str, str, int]]]


def period_trend(entity_days: EntityDays, *, days: int, now: datetime,
                 entities: Sequence[str] = (), top: int = 8,
                 name: Callable[[str], str] = str) -> Trend:
    """The trend of the last `days` whole UTC days up to today, against the `days` before;
    `entity_days(since, until)` counts stories (the store's, injected)."""
    until = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    since = until - timedelta(days=days)
    return build_trend(entity_days(since, until), entity_days(since - timedelta(days=days), since),
                       first_day=since.date(), days=days, top=top, entities=entities, name=name)


def caption(trend: Trend, tr: Tr = EN) -> str:
    """The figures in one line each: "Zhipu 14 stories, +9"."""
    return "\n".join(tr.ngettext("{name} {n} story, {change}", "{name} {n} stories, {change}",
                                  s.total).format(name=s.name, n=s.total, change=f"{s.change:+d}")
                     for s in trend.series)


def trend_json(trend: Trend) -> str:
    return json.dumps({
        "bucket_days": trend.bucket_days,
        "buckets": [b.isoformat() for b in trend.buckets],
        "series": [{"entity": s.entity, "name": s.name, "counts": list(s.counts),
                    "total": s.total, "previous": s.previous, "change": s.change}
                   for s in trend.series],
    }, ensure_ascii=False)


def trend_csv(trend: Trend) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["entity", "name", "bucket_start", "stories"])
    for s in trend.series:
        for start, n in zip(trend.buckets, s.counts, strict=True):
            writer.writerow([s.entity, s.name, start.isoformat(), n])
    return out.getvalue()
