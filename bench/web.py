"""Benchmark: `newsbot web` pages over a store of 1M items (bench/trends.py's synthetic store).

    .venv/bin/python bench/web.py [--items 1000000]

Starts `newsbot web` on the store and times each page as a visitor gets it (HTML, over
HTTP, the median of 3 after one warm-up): the dashboard with its five queries, the stories
page with its five facets (the month the menu opens on, and all time), the feeds and entities
queries. The synthetic store has no search index rows, no alerts and no feed state. Datasette's time
limits (3 s a query, 0.8 s a facet) bound what any page may cost; a page that hits one says
so instead of hanging.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.trends import build  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.webstore import start_web, stop  # noqa: E402

PAGES = ("/", "/?days=7&list=llm", "/?days=90&entity=entity01",
         "/newsbot/story_sources?seen__gte={month_ago}", "/newsbot/story_sources",
         "/newsbot/story_sources?lang=en", "/newsbot/feeds", "/newsbot/entities",
         "/newsbot/entity_timeline?entity=entity01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "web.db"
        store = Store(db)
        build(store, opts.items, random.Random(11))
        store.close()
        site = start_web(db)
        try:
            print(f"\n## newsbot web over {opts.items:,} items\n\n| page | median | note |\n"
                  "|---|---:|---|")
            month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
            for page in (p.format(month_ago=month_ago) for p in PAGES):
                times, body = [], ""
                for _ in range(4):
                    t0 = time.perf_counter()
                    status, _, body = site.get(page)
                    times.append(time.perf_counter() - t0)
                note = "" if status == 200 else f"HTTP {status}"
                if "took too long" in body or "timed out" in body.lower():
                    note += " a panel or facet hit its time limit"
                print(f"| `{page}` | {statistics.median(times[1:]) * 1000:.0f} ms | {note} |")
        finally:
            stop(site)


if __name__ == "__main__":
    main()
