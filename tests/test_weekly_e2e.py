"""The weekly brief end to end: /weekly through `newsbot run` and the fake Bot API, and a
brief queued by the Runtime (clock passed in), sent by the delivery worker as a photo with
its caption, once, across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.render.chart import png_size
from bot.run.configuration import load_config
from bot.run.runtime import Runtime
from bot.store import Store
from bot.telegram.app import alert_renderer
from bot.telegram.deliver import DeliveryLimits, DeliveryWorker, SystemClock, TelegramNotifier
from tests.fake_telegram import FakeTelegram
from tests.test_digest_e2e import settings  # noqa: F401 - a fixture: a one-feed config
from tests.test_telegram_e2e import Deployment, deployment  # noqa: F401 - deployment is a fixture
from tests.test_weekly import MONDAY_9_SHANGHAI, a_week


def test_weekly_command_switches_the_brief_on_and_off(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    chat = 401
    assert "weekly" in [c["command"] for c in d.fake.commands]
    assert "/weekly — A brief each week" in d.say(chat, "/help").plain
    assert "send /start first" in d.say(chat, "/weekly on").plain
    d.say(chat, "/start")
    assert d.say(chat, "/weekly").plain.startswith("No weekly brief.")
    usage = "Usage: /weekly on [day] [HH:MM] [time zone] | /weekly off"
    for bad in ("/weekly sometimes", "/weekly on 25:00", "/weekly on Funday", "/weekly off now"):
        assert d.say(chat, bad).plain.startswith(usage), bad
    unknown = d.say(chat, "/weekly on Mon 09:00 Mars/Olympus_Mons").plain
    assert unknown.startswith("Unknown time zone “Mars/Olympus_Mons”") and usage in unknown
    on = d.say(chat, "/weekly on Fri 17:30 asia/shanghai").plain
    assert on.startswith("Weekly brief: every Fri at 17:30 (Asia/Shanghai), the next on Fri")
    assert d.say(chat, "/weekly").plain == on
    assert d.say(chat, "/weekly off").plain.startswith("Weekly brief off.")
    store = Store(d.root / "newsbot.db")
    try:
        sub = store.subscribers.get(chat)
        assert (sub.weekly_day, sub.weekly_at, sub.weekly_tz) == (None, None, "Asia/Shanghai")
    finally:
        store.close()


class DaysAhead(SystemClock):
    """The real clock, but on the test's Monday (the outbox rows are due then)."""

    def __init__(self, now: datetime) -> None:
        self.offset = now - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def deliver_all(rt: Runtime, fake: FakeTelegram, now: datetime) -> None:
    """Run a delivery worker against the fake until the outbox has nothing pending."""
    bot = Bot(fake.token, base_url=f"{fake.url}/bot", request=HTTPXRequest())
    async with bot:
        worker = DeliveryWorker(rt.store.outbox, rt.store.subscribers, TelegramNotifier(bot),
                                alert_renderer(rt), clock=DaysAhead(now),
                                limits=DeliveryLimits(idle_poll=0.05, chat_interval=0.01))
        task = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(10):
                while rt.store.outbox.counts()["pending"]:
                    await asyncio.sleep(0.02)
        finally:
            worker.stop()
            await task


def test_a_weekly_brief_reaches_telegram_as_one_photo_once_across_a_restart(
        settings: Settings) -> None:  # noqa: F811 - the imported fixture
    now = MONDAY_9_SHANGHAI + timedelta(minutes=1)

    async def first_run() -> None:
        rt = Runtime(settings, load_config(settings), workers=0)
        try:
            a_week(rt.store)
            rt.store.subscribers.subscribe(7, "private", None, now - timedelta(days=30))
            rt.store.weekly.set(7, 0, "09:00", "Asia/Shanghai", now - timedelta(days=2))
            assert await rt.send_weeklies(now) == 1
            await deliver_all(rt, fake, now)
        finally:
            await rt.aclose()

    async def after_restart() -> None:
        rt = Runtime(settings, load_config(settings), workers=0)
        try:
            assert await rt.send_weeklies(now + timedelta(hours=2)) == 0
            await deliver_all(rt, fake, now + timedelta(hours=2))
        finally:
            await rt.aclose()

    with FakeTelegram() as fake:
        asyncio.run(first_run())
        asyncio.run(after_restart())
        sent = [m for m in fake.sent if m.chat_id == 7]  # messages and photos
    assert [m.method for m in sent] == ["sendPhoto"]
    [brief] = sent
    assert brief.photo is not None and png_size(brief.photo) == (1200, 800)
    assert brief.parse_mode == "HTML"  # the fake validated the caption's HTML and length
    assert brief.plain.startswith("Weekly brief · 30 Nov – 06 Dec 2026\n6 stories, +3")
    assert "Zhipu releases GLM-5 (4 sources)" in brief.plain
