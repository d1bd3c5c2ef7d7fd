"""The delivery worker drains a real SQLite outbox within Telegram's limits and survives errors."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.models import Feed, Hit, Item
from bot.render.alerts import render_alert
from bot.render.text import RenderedMessage
from bot.store import NewItem, Store
from bot.telegram.deliver import (
    BadMessage,
    ChatGone,
    ConsoleNotifier,
    DeliveryLimits,
    DeliveryWorker,
    RetryLater,
    TelegramNotifier,
    Transient,
)
from tests.fake_telegram import FakeTelegram

FEED = Feed(name="Test Feed", url="http://127.0.0.1/feed.xml")
FAST = DeliveryLimits(backoff_base=0.05, idle_poll=0.05)




@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as tg:
        yield tg


def queue_alert(store: Store, chats: dict[int, str], key: str = "a1",
                title: str = "Baidu <releases> Ernie & more") -> None:
    """Subscribe `chats` (id -> kind) and record one new matched item: one outbox row each."""
    now = datetime.now(UTC)
    for chat_id, kind in chats.items():
        store.subscribers.subscribe(chat_id, kind, None, now)
    item = Item(key=key, feed=FEED.name, title=title, summary="Baidu said so.",
                link=f"https://news.test/{key}", published=now, lang="en")
    store.intake.record_items(FEED, [NewItem(item, [Hit("baidu", "llm", "Baidu", "title", 0, 5)])],
                       now, backfill=False)


def render(job: Any) -> RenderedMessage:
    return render_alert(job.item, job.item.hits, None)


def outbox_rows(store: Store) -> list[dict[str, Any]]:
    return store.db.rows("SELECT * FROM outbox ORDER BY id")


async def deliver_until(worker: DeliveryWorker, done: Callable[[], bool],
                        timeout: float = 10.0) -> None:
    """Run the worker until `done()` holds, then stop it cleanly."""
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await task


async def with_telegram(fake: FakeTelegram, store: Store, done: Callable[[], bool], *,
                        limits: DeliveryLimits = FAST, read_timeout: float = 5.0) -> DeliveryWorker:
    bot = Bot(fake.token, base_url=f"{fake.url}/bot",
              request=HTTPXRequest(read_timeout=read_timeout, connection_pool_size=16))
    async with bot:
        worker = DeliveryWorker(store.outbox, store.subscribers,
                                    TelegramNotifier(bot), render, limits=limits)
        await deliver_until(worker, done)
    return worker


def pending(store: Store) -> int:
    return store.outbox.counts()["pending"]


# ---------------------------------------------------------------------------- through the fake

def test_each_chat_gets_the_alert_once_and_rows_are_marked_sent(
        fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private", -100: "supergroup"})
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    assert sorted(m.chat_id for m in fake.sent) == [-100, 1, 2]
    assert all(m.parse_mode == "HTML" and "&lt;releases&gt;" in m.text for m in fake.sent)
    rows = outbox_rows(store)
    assert {r["state"] for r in rows} == {"sent"}
    assert {r["message_id"] for r in rows} == {m.message_id for m in fake.sent}
    assert worker.stats.sent == 3


def test_429_waits_retry_after_then_delivers_once(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private"})
    fake.fail("sendMessage", kind="429", chat_id=1, retry_after=1)
    started = datetime.now(UTC)
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    assert sorted(m.chat_id for m in fake.sent) == [1, 2]
    assert worker.stats.flood_waits == 1
    first_try = next(c.at for c in fake.calls if c.method == "sendMessage" and c.status == 429)
    second = fake.messages_to(1)[0].at
    assert second - first_try >= 0.95  # waited retry_after
    assert (datetime.now(UTC) - started).total_seconds() < 5


def test_403_deactivates_the_chat_and_others_still_get_it(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private"})
    fake.fail("sendMessage", kind="403", chat_id=2)
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    assert [m.chat_id for m in fake.sent] == [1]
    assert store.subscribers.get(2) is not None and not store.subscribers.get(2).active
    assert store.subscribers.get(1).active
    assert worker.stats.gone == 1
    assert store.outbox.counts() == {"pending": 0, "sent": 1, "failed": 1}


def test_400_parse_error_falls_back_to_plain_text(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private"})
    fake.fail("sendMessage", kind="400_parse", chat_id=1)
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    [sent] = fake.sent
    assert sent.parse_mode is None and "Baidu <releases> Ernie & more" in sent.text
    assert worker.stats.plain_fallbacks == 1
    assert store.outbox.counts()["sent"] == 1


def test_5xx_and_timeouts_are_retried_with_backoff(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private"})
    fake.fail("sendMessage", kind="500", chat_id=1, times=2)
    fake.fail("sendMessage", kind="hang", chat_id=2, hang_seconds=3)
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0,
                                       read_timeout=0.3))
    fake.release_hangs()
    assert sorted(m.chat_id for m in fake.sent) == [1, 2]
    attempts = {r["chat_id"]: r["attempts"] for r in outbox_rows(store)}
    assert attempts == {1: 3, 2: 2}
    assert worker.stats.retried == 3


def test_other_400_gives_up_on_that_row_only(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private"})
    fake.fail("sendMessage", kind="400", chat_id=1, description="Bad Request: message is too long")
    asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    assert [m.chat_id for m in fake.sent] == [2]
    assert store.subscribers.get(1).active
    assert store.outbox.counts() == {"pending": 0, "sent": 1, "failed": 1}


def test_chat_not_found_deactivates_like_403(fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private"})
    fake.fail("sendMessage", kind="400", chat_id=1)  # "Bad Request: chat not found"
    worker = asyncio.run(with_telegram(fake, store, lambda: pending(store) == 0))
    assert [m.chat_id for m in fake.sent] == [2]
    assert not store.subscribers.get(1).active and worker.stats.gone == 1


def test_stop_finishes_the_send_in_flight_and_leaves_the_rest_queued(
        fake: FakeTelegram, store: Store) -> None:
    queue_alert(store, {n: "private" for n in range(1, 21)})
    fake.fail("sendMessage", kind="hang", chat_id=1, hang_seconds=0.5)  # slow, then 500
    slow = DeliveryLimits(global_per_second=5, max_in_flight=2, idle_poll=0.05)

    async def body() -> None:
        async with Bot(fake.token, base_url=f"{fake.url}/bot") as bot:
            worker = DeliveryWorker(store.outbox, store.subscribers,
                                    TelegramNotifier(bot), render, limits=slow)
            task = asyncio.create_task(worker.run())
            await asyncio.sleep(0.7)
            worker.stop()
            await task
            assert worker.stats.in_flight == 0
    asyncio.run(body())
    counts = store.outbox.counts()
    assert 1 <= counts["sent"] <= 5 and counts["pending"] == 20 - counts["sent"]
    assert counts["sent"] == len(fake.sent)  # everything sent was marked before exit


# ---------------------------------------------------------------------------- limits, clocked

@dataclass
class FakeClock:
    """Virtual time: sleep() advances it at once."""

    t: float = 0.0
    base: datetime = field(default_factory=lambda: datetime.now(UTC))

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class ListNotifier:
    """Records sends with their virtual time; raises the scripted errors first."""

    clock: FakeClock
    errors: dict[int, list[Exception]] = field(default_factory=dict)
    sent: list[tuple[int, float, bool]] = field(default_factory=list)

    async def send(self, chat_id: int, message: RenderedMessage, *, plain: bool = False) -> int:
        script = self.errors.get(chat_id)
        if script:
            raise script.pop(0)
        self.sent.append((chat_id, self.clock.t, plain))
        return len(self.sent)


def run_clocked(store: Store, limits: DeliveryLimits, errors: dict[int, list[Exception]] | None = None,
                ) -> tuple[ListNotifier, DeliveryWorker]:
    clock = FakeClock()
    notifier = ListNotifier(clock, errors or {})
    worker = DeliveryWorker(store.outbox, store.subscribers,
                                    notifier, render, limits=limits, clock=clock)
    asyncio.run(deliver_until(worker, lambda: pending(store) == 0))
    return notifier, worker


def test_global_rate_spaces_a_fanout_evenly_below_30_per_second(store: Store) -> None:
    queue_alert(store, {n: "private" for n in range(1, 301)})
    notifier, _ = run_clocked(store, DeliveryLimits())
    times = [t for _, t, _ in notifier.sent]
    assert len(times) == 300
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    rate = DeliveryLimits().global_per_second
    assert min(gaps) >= 1 / rate - 1e-9
    assert (len(times) - 1) / (times[-1] - times[0]) == pytest.approx(rate, rel=0.01)
    # No one-second window holds more than 30.
    assert max(sum(1 for t in times if s <= t < s + 1) for s in times) <= 30


def test_one_chat_gets_at_most_one_per_second_and_a_group_one_per_three(store: Store) -> None:
    for n in range(4):
        queue_alert(store, {7: "private", -9: "group"}, key=f"k{n}")
    notifier, _ = run_clocked(store, DeliveryLimits())
    for chat, spacing in ((7, 1.0), (-9, 3.0)):
        times = [t for c, t, _ in notifier.sent if c == chat]
        assert len(times) == 4
        assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= spacing - 1e-9


def test_a_busy_chat_does_not_hold_up_the_others(store: Store) -> None:
    for n in range(30):
        queue_alert(store, {7: "group"}, key=f"busy{n}")
    queue_alert(store, {8: "private"}, key="other")
    notifier, _ = run_clocked(store, DeliveryLimits(batch=10))
    when_other = next(t for c, t, _ in notifier.sent if c == 8)
    assert when_other < 1.0  # not after the group's 30 × 3 s


def test_gives_up_after_max_attempts(store: Store) -> None:
    queue_alert(store, {1: "private"})
    errors: dict[int, list[Exception]] = {1: [Transient("boom") for _ in range(5)]}
    notifier, worker = run_clocked(store, DeliveryLimits(max_attempts=3), errors)
    assert notifier.sent == [] and worker.stats.failed == 1
    [row] = outbox_rows(store)
    assert row["state"] == "failed" and row["attempts"] == 3


def test_flood_pause_stops_every_chat_for_retry_after(store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private", 3: "private"})
    notifier, worker = run_clocked(store, DeliveryLimits(),
                                   {1: [RetryLater(5)], 2: [], 3: []})
    after = {c: t for c, t, _ in notifier.sent}
    assert worker.stats.flood_waits == 1
    assert after[1] >= 5 and after[3] >= 5  # chat 3 waited too
    assert store.outbox.counts()["sent"] == 3


def test_scripted_errors_map_to_the_right_outcomes(store: Store) -> None:
    queue_alert(store, {1: "private", 2: "private", 3: "private"})
    notifier, worker = run_clocked(store, DeliveryLimits(), {
        1: [ChatGone("Forbidden: bot was kicked")],
        2: [BadMessage("can't parse entities", parse_error=True)],
        3: [BadMessage("message is too long")],
    })
    assert notifier.sent == [(2, notifier.sent[0][1], True)]
    assert not store.subscribers.get(1).active
    assert worker.stats.as_dict()["plain fallbacks"] == 1


def test_console_notifier_prints_plain_text() -> None:
    out = io.StringIO()
    notifier = ConsoleNotifier(out)
    message_id = asyncio.run(notifier.send(5, RenderedMessage("<b>x</b> &amp;", "x &")))
    assert message_id == 1 and "x &" in out.getvalue() and "<b>" not in out.getvalue()


def test_spacing_absorbs_small_lateness_but_never_bunches() -> None:
    from bot.telegram.deliver import Spacing

    s = Spacing(0.1, tolerance=0.002)
    s.take(0.0)
    assert s.ready_at() == pytest.approx(0.1)
    s.take(0.101)  # a millisecond late: the schedule holds
    assert s.ready_at() == pytest.approx(0.2)
    s.take(0.25)  # late by half a slot: only the tolerance is forgiven
    assert s.ready_at() == pytest.approx(0.348)
    s.take(5.0)  # after idling, the next slot is a full interval away
    assert s.ready_at() == pytest.approx(5.1)


def test_a_new_source_of_a_sent_story_edits_the_message_once(fake: FakeTelegram, store: Store) -> None:
    """Same story from three feeds: one message, then one editMessageText with +2 sources."""
    def render_with_sources(job: Any) -> RenderedMessage:
        return render_alert(job.item, job.item.hits, None, sources=job.sources)

    async def deliver_all() -> None:
        bot = Bot(fake.token, base_url=f"{fake.url}/bot", request=HTTPXRequest())
        async with bot:
            worker = DeliveryWorker(store.outbox, store.subscribers,
                                    TelegramNotifier(bot), render_with_sources, limits=FAST)
            await deliver_until(worker, lambda: pending(store) == 0)

    now = datetime.now(UTC)
    store.subscribers.subscribe(1, "private", None, now)
    hit = [Hit("alibaba", "llm", "Qwen", "title", 0, 4)]

    def publish(feed: str, title: str, link: str, at: datetime) -> None:
        item = Item(key=link, feed=feed, title=title, summary="", link=link, published=now, lang="en")
        store.intake.record_items(Feed(feed, f"http://127.0.0.1/{feed}"), [NewItem(item, hit)], at,
                           backfill=False)

    publish("Reuters", "Qwen 3 open-weight models released by Alibaba",
            "https://www.reuters.com/tech/qwen-3/", now)
    asyncio.run(deliver_all())
    publish("SCMP", "Alibaba releases Qwen 3 open-weight models",
            "https://amp.scmp.com/tech/qwen-3/amp", now)
    publish("Wire", "Qwen 3 open-weight models released by Alibaba - Reuters",
            "https://www.reuters.com/tech/qwen-3/?utm_source=rss", now)
    assert store.outbox.due(now + timedelta(seconds=61))[0].kind == "edit"
    store.db.conn.execute("UPDATE outbox SET next_try = ? WHERE kind = 'edit'",
                          [(now - timedelta(seconds=1)).isoformat(timespec="milliseconds")])
    asyncio.run(deliver_all())

    sends = [m for m in fake.sent if m.method != "editMessageText"]
    edits = [m for m in fake.sent if m.method == "editMessageText"]
    assert len(sends) == 1 and len(edits) == 1
    assert edits[0].message_id == sends[0].message_id
    assert "+2 sources" in edits[0].text and "SCMP" in edits[0].text
