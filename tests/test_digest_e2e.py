"""Digest mode end to end: /digest through `newsbot run` and the fake Bot API, and
Runtime.send_digests with `now` passed in, down to the messages the fake Bot API receives.

The daily HH:MM has minute granularity, so the bot process is asked for the command, holding
and releasing alerts; the digest itself is driven in-process with an injected clock. Held rows
come from record_items (state 'held' for chats in digest mode).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.models import Feed, Hit, Item
from bot.run.configuration import load_config
from bot.run.runtime import Runtime
from bot.run.scheduler import Scheduler
from bot.store import NewItem, Store
from bot.telegram.app import alert_renderer
from bot.telegram.deliver import DeliveryLimits, DeliveryWorker, TelegramNotifier
from tests.fake_telegram import FakeTelegram
from tests.feedserver import FeedServer, Route
from tests.test_pipeline import rss
from tests.test_telegram_e2e import MATCH, REPO, Deployment, deployment  # noqa: F401 - deployment is a fixture

FEED_A = Feed("Feed A", "http://127.0.0.1/a")
FEED_B = Feed("Feed B", "http://127.0.0.1/b")
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)
EIGHT_UTC = datetime(2026, 11, 27, 8, 0, 10, tzinfo=UTC)
YESTERDAY = EIGHT_UTC - timedelta(days=1)


# ---------------------------------------------------------------------------- the command

def test_digest_command_sets_shows_and_switches_off_the_daily_digest(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    chat = 301
    assert "digest" in [c["command"] for c in d.fake.commands]
    assert "/digest — One message a day" in d.say(chat, "/help").plain
    assert "send /start first" in d.say(chat, "/digest daily 08:00").plain
    d.say(chat, "/start")
    assert d.say(chat, "/digest").plain.startswith("Alerts arrive here as soon as they are found")
    usage = "Usage: /digest daily HH:MM [time zone] | /digest off"
    for bad in ("/digest daily", "/digest daily 25:00", "/digest weekly 08:00", "/digest off now",
                "/digest daily 08:00 Asia/Shanghai extra"):
        assert d.say(chat, bad).plain.startswith(usage), bad
    unknown = d.say(chat, "/digest daily 08:00 Mars/Olympus_Mons").plain
    assert unknown.startswith("Unknown time zone “Mars/Olympus_Mons”") and usage in unknown
    on = d.say(chat, "/digest daily 7:30 asia/shanghai").plain
    assert on.startswith("Digest: one message a day at 07:30 (Asia/Shanghai)")
    assert d.say(chat, "/digest").plain == on
    # A new time keeps the chat's time zone unless another is given.
    assert "at 21:00 (Asia/Shanghai)" in d.say(chat, "/digest daily 21:00").plain
    # While the digest is on, an alert is held; another chat gets it at once.
    d.say(302, "/start")
    d.publish("d1", MATCH)
    d.fake.wait_for(lambda sent: any(m.chat_id == 302 and "Ernie" in m.text for m in sent), 15)
    d.wait_for_polls(2)  # more poll cycles ...
    d.wait_until_delivered()  # ... and worker passes
    assert [m for m in d.fake.messages_to(chat) if "Ernie" in m.text] == []
    # Switching off releases what was held: nothing is lost.
    off = d.say(chat, "/digest OFF").plain
    assert off.startswith("Digest off: alerts arrive as soon") and "The 1 alert collected" in off
    d.fake.wait_for(lambda sent: any(m.chat_id == chat and "Ernie" in m.text for m in sent), 10)
    assert d.say(chat, "/digest off").plain.startswith("Digest is already off")
    store = Store(d.root / "newsbot.db")
    try:
        sub = store.subscribers.get(chat)
        assert (sub.digest_at, sub.digest_tz) == (None, "Asia/Shanghai")
    finally:
        store.close()


# ---------------------------------------------------------------------------- Runtime.send_digests

@pytest.fixture
def settings(tmp_path: Path, feed_server: FeedServer) -> Settings:
    feed_server.routes["/a"] = Route(body=rss("Weather today"))
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: A, url: '{feed_server.url('/a')}', interval: 1h, timeout: 5s}}\n",
        encoding="utf-8")
    return Settings(feeds_path=tmp_path / "feeds.yaml", rules_dir=REPO / "rules",
                    db_path=tmp_path / "db.sqlite", telegram_token="123:x", admins=())


def run_with_runtime(settings: Settings, body: Callable[[Runtime], Awaitable[None]]) -> None:
    """Run `body` with a Runtime made and closed in one event loop (its fetcher's)."""

    async def go() -> None:
        rt = Runtime(settings, load_config(settings), workers=0)
        try:
            await body(rt)
        finally:
            await rt.aclose()

    asyncio.run(go())


def hold(store: Store, key: str, title: str, *, feed: Feed = FEED_A, at: datetime = YESTERDAY,
         hits: tuple[Hit, ...] = (BAIDU,)) -> int:
    """Record a matched item (held for the chats in digest mode); its item id."""
    item = Item(key=key, feed=feed.name, title=title, summary="", link=f"https://news.test/{key}",
                published=None, lang="en")
    [recorded] = store.intake.record_items(feed, [NewItem(item, hits)], at, backfill=False)
    return recorded.stored.id


def digest_chat(store: Store, chat_id: int, at: str, tz: str) -> None:
    store.subscribers.subscribe(chat_id, "private", None, YESTERDAY - timedelta(days=1))
    store.digests.set(chat_id, at, tz, YESTERDAY - timedelta(days=1))


def test_send_digests_queues_one_digest_for_each_due_chat_with_news(settings: Settings) -> None:
    async def body(rt: Runtime) -> None:
        store = rt.store
        digest_chat(store, 1, "08:00", "UTC")  # due, with news held
        digest_chat(store, 2, "08:00", "Asia/Shanghai")  # due (00:00 UTC), nothing held for it:
        store.subscribers.set_follows(2, ["deepfake"])  # it follows another list
        digest_chat(store, 3, "09:00", "UTC")  # not yet
        store.subscribers.subscribe(4, "private", None, YESTERDAY)  # immediate alerts
        hold(store, "k1", "Baidu ships Ernie 5")
        hold(store, "k2", "Baidu ships Ernie 5", feed=FEED_B)  # the same story, told again
        hold(store, "k3", "Baidu <cuts> prices & more")

        assert await rt.send_digests(EIGHT_UTC) == 1
        [digest] = [j for j in store.outbox.due(EIGHT_UTC) if j.chat_id == 1]
        assert digest.item is None and "2 stories" in digest.text
        assert "(2 sources)" in digest.text
        assert "<b>Baidu</b> &lt;cuts&gt; prices &amp; more" in digest.text
        assert [j.chat_id for j in store.outbox.due(EIGHT_UTC) if j.item is not None] == [4, 4]
        assert [s.chat_id for s in store.digests.due_chats(EIGHT_UTC)] == []  # 2 is done too
        assert store.digests.held(1) == [] and len(store.digests.held(3)) == 2
        assert await rt.send_digests(EIGHT_UTC + timedelta(minutes=1)) == 0

    run_with_runtime(settings, body)


def test_the_scheduler_tick_sends_due_digests_every_digest_every_seconds(
        settings: Settings) -> None:
    async def body(rt: Runtime) -> None:
        store = rt.store
        store.subscribers.subscribe(1, "private", None, YESTERDAY)
        store.digests.set(1, "00:00", "UTC", datetime.now(UTC) - timedelta(days=2))  # due today
        hold(store, "k1", "Baidu ships Ernie 5")
        scheduler = Scheduler(rt, digest_every=30.0)
        await scheduler.tick()
        hold(store, "k2", "Baidu again")  # the next tick comes within digest_every: no digest
        await scheduler.tick()
        await scheduler.stop()
        texts = [j.text for j in store.outbox.due(datetime.now(UTC)) if j.chat_id == 1]
        assert len(texts) == 1 and "ships Ernie 5" in texts[0] and "again" not in texts[0]
        assert [h.title for h in store.digests.held(1)] == ["Baidu again"]

    run_with_runtime(settings, body)


def test_a_long_digest_reaches_telegram_as_valid_html_in_order(settings: Settings) -> None:
    async def body(rt: Runtime) -> None:
        store = rt.store
        digest_chat(store, 1, "08:00", "Europe/Berlin")  # 07:00 UTC in November
        for n in range(60):
            hold(store, f"k{n}", f"Baidu story {n:02d} <b>not bold</b> & " + "words " * 40)
        assert await rt.send_digests(EIGHT_UTC) >= 2
        bot = Bot(fake.token, base_url=f"{fake.url}/bot", request=HTTPXRequest())
        async with bot:
            worker = DeliveryWorker(store.outbox, store.subscribers, TelegramNotifier(bot), alert_renderer(rt),
                                    limits=DeliveryLimits(idle_poll=0.05, chat_interval=0.01))
            task = asyncio.create_task(worker.run())
            try:
                async with asyncio.timeout(10):
                    while store.outbox.counts()["pending"]:
                        await asyncio.sleep(0.02)
            finally:
                worker.stop()
                await task

    with FakeTelegram() as fake:
        run_with_runtime(settings, body)
        sent = fake.messages_to(1)
    assert len(sent) >= 2 and all(m.parse_mode == "HTML" for m in sent)  # the fake validated it
    shown = "\n".join(m.plain for m in sent)
    lines = [line for line in shown.splitlines() if line.startswith("• ")]
    numbers = [line.split("story ")[1][:2] for line in lines]
    assert numbers == [f"{n:02d}" for n in range(60)]  # every story once, in order
    assert "<b>not bold</b> &" in shown
