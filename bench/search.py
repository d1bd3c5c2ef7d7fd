"""Benchmark: /search latency at 10k, 100k and 1M stored items, FTS5 against the old LIKE scan.

    .venv/bin/python bench/search.py [--sizes 10000,100000,1000000] [--queries 200]

Builds a store of N synthetic items (one every 30 s; English and Chinese headlines and
summaries from a news-sized vocabulary, watched names in one item of ten), bulk-loaded into
`items` and the search index exactly as bot/store/search.py writes them. Then times the
queries people type: a company name (English or a two-character Chinese name), two words, a
phrase, and a name with `since:30d`, through `store.search.find` (ten stories, as /search
asks), and the same words through the LIKE scan /search used before (every word in title or
summary, newest first). Prints p50 and p99 per size. Target: FTS p99 < 50 ms at 1M items.
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

from bot.store import Store  # noqa: E402
from bot.store.db import ts  # noqa: E402
from bot.store.search import index_rows  # noqa: E402

_SYLLABLES = "ba ko ri ten mu sa lo ve dan pi gor al tu mer sin ca ro le fi nu".split()
WORDS = ["".join(random.Random(n).choices(_SYLLABLES, k=3)) for n in range(4000)] + (
    "model cloud chip launch users growth data policy report open source agent startup "
    "funding rules platform search video robot").split()
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]
ZH_WORDS = ["".join(random.Random(-n).choices(_HAN, k=2)) for n in range(3000)]
NAMES = ["Baidu", "Alibaba", "Zhipu", "Moonshot", "DeepSeek", "Tencent", "ByteDance", "MiniMax"]
ZH_NAMES = ["百度", "阿里巴巴", "智谱", "月之暗面", "深度求索", "腾讯", "字节跳动", "商汤"]
END = datetime(2026, 12, 1, tzinfo=UTC)


def synthetic(n: int, rng: random.Random) -> tuple[str, str]:
    """One item's title and summary."""
    if n % 3 == 0:
        words = rng.choices(ZH_WORDS, k=10)
        if n % 10 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(ZH_NAMES))
        return "".join(words[:6]), "".join(words + rng.choices(ZH_WORDS, k=30))
    words = rng.choices(WORDS, k=9)
    if n % 10 == 1:
        words.insert(rng.randrange(len(words)), rng.choice(NAMES))
    title = " ".join(words).capitalize()
    return title, title + " " + " ".join(rng.choices(WORDS, k=40))


def build(store: Store, size: int, rng: random.Random) -> None:
    """Bulk-load `size` items (and their index rows) ending at END, one every 30 s."""
    conn = store.db.conn
    start = END - timedelta(seconds=30 * size)
    for lo in range(0, size, 50_000):
        rows = []
        for n in range(lo, min(size, lo + 50_000)):
            title, summary = synthetic(n, rng)
            seen = ts(start + timedelta(seconds=30 * n))
            rows.append((n + 1, f"feed-{n % 300}", f"k{n}", title, summary, seen, seen))
        with store.db.tx():
            conn.executemany(
                """INSERT INTO items (id, feed, key, title, summary, link, published, lang,
                   first_seen, backfill, matched, story_id) VALUES (?,?,?,?,?,NULL,?,NULL,?,0,0,NULL)""",
                rows)
            conn.executemany("INSERT INTO items_fts (rowid, title, summary) VALUES (?,?,?)",
                             index_rows([(r[0], r[3], r[4]) for r in rows]))


def queries(rng: random.Random, count: int) -> list[str]:
    """What people type: names, two words, a phrase, a name in a period."""
    shapes = [
        lambda: rng.choice(NAMES),
        lambda: rng.choice(ZH_NAMES),
        lambda: f"{rng.choice(NAMES)} {rng.choice(WORDS[-20:])}",
        lambda: '"open source"',
        lambda: f"{rng.choice(ZH_NAMES)} since:30d",
        lambda: rng.choice(WORDS[:4000]),
    ]
    return [shapes[i % len(shapes)]() for i in range(count)]


def like_search(store: Store, words: str, n: int = 10) -> list[dict[str, object]]:
    """The LIKE scan /search ran before FTS (every word in title or summary, newest first)."""
    terms = [w for w in words.replace('"', " ").split() if ":" not in w]
    where = " AND ".join(["(title LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\')"] * len(terms))
    params: list[object] = []
    for term in terms:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    return store.db.rows(
        f"SELECT * FROM items WHERE {where} ORDER BY first_seen DESC, id DESC LIMIT ?",
        [*params, n])


def timed(fn, qs: list[str]) -> tuple[float, float]:
    """p50 and p99 in ms."""
    times = []
    for q in qs:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    opts = parser.parse_args()
    print("\n## /search latency: store.search.find (FTS5) vs the old LIKE scan, ten stories a query\n")
    print("| stored items | build s | db MB | FTS p50 | FTS p99 | LIKE p50 | LIKE p99 | target |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in (int(s) for s in opts.sizes.split(",")):
        rng = random.Random(size)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "search.db")
            t0 = time.perf_counter()
            build(store, size, rng)
            built = time.perf_counter() - t0
            qs = queries(rng, opts.queries)
            fts = timed(lambda q: store.search.find(q, 10, now=END), qs)
            like = timed(lambda q: like_search(store, q), qs[: max(20, opts.queries // 10)])
            mb = (Path(tmp) / "search.db").stat().st_size / 1e6
            ok = "ok" if size < 1_000_000 or fts[1] < 50 else "MISSED"
            print(f"| {size:,} | {built:.1f} | {mb:,.0f} | {fts[0]:.1f} ms | {fts[1]:.1f} ms "
                  f"| {like[0]:.1f} ms | {like[1]:.1f} ms | p99 < 50 ms at 1M ({ok}) |",
                  flush=True)
            store.close()


if __name__ == "__main__":
    main()
