"""One alert to 1,000 chats through the fake Bot API server with Telegram's flood limits on.

    .venv/bin/python bench/fanout.py [--chats 1000] [--rate 28.5] [--in-flight 8]

The real pieces are used end to end: a SQLite outbox (bot.store), the delivery worker
(bot.telegram.deliver) and python-telegram-bot's HTTP client, against tests/fake_telegram.py, which
answers 429 whenever a send breaks 30/s overall or 1/s per chat (measured at arrival).
The fake runs in its own process, as Telegram would: in ours it would compete for the GIL
and delay the worker's timers.
Prints messages/s against the 30/s bound and how many 429s were provoked.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.models import Feed, Hit, Item  # noqa: E402
from bot.render.alerts import render_alert  # noqa: E402
from bot.store import NewItem, Store  # noqa: E402
from bot.telegram.deliver import DeliveryLimits, DeliveryWorker, TelegramNotifier  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402

BOUND = 30.0


def queue_fanout(store: Store, chats: int) -> None:
    """Subscribe `chats` private chats and record one matched item: one outbox row each."""
    now = datetime.now(UTC)
    for chat_id in range(1, chats + 1):
        store.subscribers.subscribe(chat_id, "private", None, now)
    feed = Feed(name="Bench Feed", url="http://127.0.0.1/feed.xml")
    item = Item(key="bench-1", feed=feed.name, title="Baidu releases Ernie 4.5 <large> model",
                summary="Baidu & friends " * 20, link="https://news.test/bench-1",
                published=now, lang="en")
    store.intake.record_items(feed, [NewItem(item, [Hit("baidu", "llm", "Baidu", "title", 0, 5)])],
                       now, backfill=False)


async def deliver(url: str, token: str, store: Store, limits: DeliveryLimits) -> DeliveryWorker:
    request = HTTPXRequest(connection_pool_size=limits.max_in_flight + 4, read_timeout=10.0)
    async with Bot(token, base_url=f"{url}/bot", request=request) as bot:
        worker = DeliveryWorker(store.outbox, store.subscribers, TelegramNotifier(bot),
                                lambda job: render_alert(job.item, job.item.hits, None),
                                limits=limits)
        task = asyncio.create_task(worker.run())
        while store.outbox.counts()["pending"]:
            await asyncio.sleep(0.05)
        worker.stop()
        await task
    return worker


def serve_fake(conn: multiprocessing.connection.Connection) -> None:
    """Child process: run the fake with flood limits; report arrivals and 429s when told."""
    with FakeTelegram(flood_limits=True) as fake:
        conn.send((fake.url, fake.token))
        conn.recv()  # "done"
        conn.send(([m.at for m in fake.sent], fake.flood_429s))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=DeliveryLimits().global_per_second,
                        help="the worker's global messages/s (default: the shipped limit)")
    parser.add_argument("--in-flight", type=int, default=DeliveryLimits().max_in_flight)
    args = parser.parse_args()
    limits = DeliveryLimits(global_per_second=args.rate, max_in_flight=args.in_flight)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_fake, args=(child,))
    server.start()
    url, token = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        queue_fanout(store, args.chats)
        started = time.perf_counter()
        worker = asyncio.run(deliver(url, token, store, limits))
        wall = time.perf_counter() - started
        counts = store.outbox.counts()
        store.close()
    parent.send("done")
    times, flood_429s = parent.recv()
    server.join()
    arrivals = sorted(times)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    rate = (len(arrivals) - 1) / span if span else float("nan")
    busiest = max(sum(1 for t in arrivals[i:i + 40] if t < s + 1.0)
                  for i, s in enumerate(arrivals))
    print(f"fan-out of one alert to {args.chats} chats (worker limit {args.rate:g}/s, "
          f"{args.in_flight} in flight)")
    print(f"  delivered: {counts['sent']} sent, {counts['failed']} failed, "
          f"{counts['pending']} pending; fake recorded {len(arrivals)} messages")
    print(f"  rate: {rate:.2f} msg/s at the server = {100 * rate / BOUND:.1f}% of the {BOUND:g}/s "
          f"bound; busiest 1-s window {busiest} messages; wall {wall:.1f}s")
    print(f"  429s provoked: {flood_429s} (worker waited on {worker.stats.flood_waits}); "
          f"target >= 90% of bound and zero 429s: "
          f"{'MET' if rate >= 0.9 * BOUND and flood_429s == 0 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
