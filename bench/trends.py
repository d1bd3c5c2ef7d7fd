"""Benchmark: a 90-day trends chart over a store of 1M items, counting and drawing included.

    .venv/bin/python bench/trends.py [--items 1000000] [--days 90]

Bulk-loads N items (one every 30 s, so 1M items span ~350 days) grouped into stories of 1–4
items, one item in three matched to one of 40 entities (Zipf-like popularity), then times
what /trends and `newsbot trends --png` do: count stories per entity per day for the period
and the period before (store.stories.entity_days, twice), bucket them (build_trend) and draw
the PNG (matplotlib, Agg). Prints each part. Target: < 2 s in all for 90 days over 1M items.

Then the weekly brief of a chat that follows everything (the widest scope, the most rows):
the week's figures (stories, the week before, entity days, each list's top stories by
sources, entities seen for the first time), its caption and its chart.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.render.chart import draw_trend, png_size  # noqa: E402
from bot.match.rules import load_watchlists  # noqa: E402
from bot.render.trends import period_trend  # noqa: E402
from bot.run.weekly import draw_brief, gather_brief  # noqa: E402
from bot.schedule import week_label  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.db import ts  # noqa: E402
from bot.store.subscribers import Subscriber  # noqa: E402
from bot.store.weekly import DueBrief  # noqa: E402

END = datetime(2026, 12, 1, tzinfo=UTC)
ENTITIES = [f"entity{n:02d}" for n in range(40)]
WEIGHTS = [1 / (n + 1) for n in range(40)]


def build(store: Store, size: int, rng: random.Random) -> None:
    """Items, stories and hits of `size` synthetic items ending at END."""
    conn = store.db.conn
    start = END - timedelta(seconds=30 * size)
    story = 0
    left = 0
    for lo in range(0, size, 50_000):
        items, stories, hits = [], [], []
        for n in range(lo, min(size, lo + 50_000)):
            item_id = n + 1
            seen = ts(start + timedelta(seconds=30 * n))
            if left == 0:
                story, left = item_id, rng.randint(1, 4)
                stories.append((story, item_id, seen, f"story {story}", seen, seen))
                entity = rng.choices(ENTITIES, WEIGHTS)[0] if rng.random() < 1 / 3 else None
            left -= 1
            items.append((item_id, f"feed-{n % 300}", f"k{n}", f"title {n}", "", seen, seen,
                          story))
            if entity:
                hits.append((item_id, entity, "llm", entity, "title", 0, 5, 100.0))
        with store.db.tx():
            conn.executemany(
                """INSERT INTO items (id, feed, key, title, summary, link, published, lang,
                   first_seen, backfill, matched, story_id)
                   VALUES (?,?,?,?,?,NULL,?,NULL,?,0,1,NULL)""", [r[:7] for r in items])
            conn.executemany(
                """INSERT INTO stories (id, first_item_id, created, title, at, updated, items)
                   VALUES (?,?,?,?,?,?,1)""", stories)
            conn.executemany("UPDATE items SET story_id = ? WHERE id = ?",
                             [(r[7], r[0]) for r in items])
            conn.executemany(
                """INSERT INTO hits (item_id, entity, list, alias, field, start, "end", score)
                   VALUES (?,?,?,?,?,?,?,?)""", hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "trends.db")
        t0 = time.perf_counter()
        build(store, opts.items, random.Random(11))
        built = time.perf_counter() - t0
        t1 = time.perf_counter()
        trend = period_trend(lambda a, b: store.stories.entity_days(a, b), days=opts.days,
                             now=END - timedelta(seconds=1))
        counted = time.perf_counter() - t1
        t2 = time.perf_counter()
        png = draw_trend(trend, f"Stories per entity, last {opts.days} days (top entities)")
        drawn = time.perf_counter() - t2
        total = counted + drawn
        print(f"\n## trends: {opts.days} days over {opts.items:,} stored items "
              f"(built in {built:.1f} s)\n")
        print("| count (both periods) | bucket + draw PNG | total | PNG | target |")
        print("|---:|---:|---:|---|---|")
        print(f"| {counted * 1000:.0f} ms | {drawn * 1000:.0f} ms | {total:.2f} s | "
              f"{png_size(png)[0]}×{png_size(png)[1]}, {len(png) // 1024} kB | < 2 s "
              f"({'ok' if total < 2 else 'MISSED'}) |")
        print(f"\ntop: {', '.join(f'{s.entity} {s.total} ({s.change:+d})' for s in trend.series)}")
        weekly(store)
        store.close()


def weekly(store: Store) -> None:
    """Time one weekly brief for a chat that follows everything, due at END."""
    watchlists = load_watchlists(Path(__file__).resolve().parents[1] / "rules")
    chat = Subscriber(chat_id=1, kind="private", title=None, active=True, weekly_day=END.weekday(),
                      weekly_at="00:00", weekly_tz="UTC")
    due = DueBrief(chat, END, week_label(END, "UTC"))
    t0 = time.perf_counter()
    brief = gather_brief(store, watchlists, due)
    gathered = time.perf_counter() - t0
    t1 = time.perf_counter()
    caption, png = draw_brief(brief)
    drawn = time.perf_counter() - t1
    print("\n## weekly brief: a chat following everything\n")
    print("| gather the week | caption + chart | total | stories (week before) | caption |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {gathered * 1000:.0f} ms | {drawn * 1000:.0f} ms | {gathered + drawn:.2f} s | "
          f"{brief.stories} ({brief.previous}) | {len(caption.plain)} chars, "
          f"{'a chart' if png else 'no chart'} |")


if __name__ == "__main__":
    main()
