"""The running bot's housekeeping: hot reload, feed health notices, the scheduler tick."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.models import FetchResult, Item
from bot.run.configuration import describe_change, load_config
from bot.run.runtime import Runtime
from bot.run.scheduler import Scheduler
from bot.store import NewItem
from tests.feedserver import Route
from tests.test_cli import SIMPLE_RULES
from tests.test_pipeline import rss

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path, feed_server):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "llm.yaml").write_text(SIMPLE_RULES, encoding="utf-8")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts", "DeepSeek R2 is out"))
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: A, url: '{feed_server.url('/a')}', interval: 1s, timeout: 5s}}\n",
        encoding="utf-8")
    return Settings(feeds_path=tmp_path / "feeds.yaml", rules_dir=tmp_path / "rules",
                    db_path=tmp_path / "db.sqlite", telegram_token="123:x", admins=(7,))


def touch_later(path):
    """Write happened: make sure the mtime moves even on coarse filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def runtime_for(settings):
    return Runtime(settings, load_config(settings), workers=0)


def test_editing_a_rule_file_takes_effect_without_a_restart(settings):
    async def go():
        rt = runtime_for(settings)
        try:
            assert [h.entity for h in rt.match("DeepSeek R2 is out", "")] == []
            rules = settings.rules_dir / "llm.yaml"
            rules.write_text(SIMPLE_RULES + "  - id: deepseek\n    name: DeepSeek\n    aliases: [DeepSeek]\n",
                             encoding="utf-8")
            touch_later(rules)
            await rt.reload_if_changed()
            assert [h.entity for h in rt.match("DeepSeek R2 is out", "")] == ["deepseek"]
        finally:
            await rt.aclose()

    asyncio.run(go())


def test_a_broken_edit_keeps_the_last_good_rules_and_tells_the_admins_once(settings, caplog):
    async def go():
        rt = runtime_for(settings)
        try:
            rules = settings.rules_dir / "llm.yaml"
            rules.write_text(SIMPLE_RULES + "  - id: broken\n    nmae: typo\n", encoding="utf-8")
            touch_later(rules)
            await rt.reload_if_changed()
            assert [h.entity for h in rt.match("Qwen 3", "")] == ["alibaba"]  # old rules run on
            touch_later(rules)
            await rt.reload_if_changed()  # same problems: no second notice
            jobs = rt.store.outbox.due(datetime.now(UTC) + timedelta(seconds=1))
            assert [j.chat_id for j in jobs] == [7]
            assert "llm.yaml:7" in jobs[0].text and "last good configuration" in jobs[0].text
        finally:
            await rt.aclose()

    asyncio.run(go())
    assert any("llm.yaml:7" in r.getMessage() for r in caplog.records)


def test_feed_failing_too_long_raises_one_notice_and_recovery_one_more(settings):
    async def go():
        rt = runtime_for(settings)
        feed = rt.config.feeds.feeds[0]
        try:
            down = FetchResult("error", feed.url, error="HTTP 503 Service Unavailable")
            rt.store.feeds.record_fetch(feed, down, NOW - timedelta(hours=7))
            rt.store.feeds.record_fetch(feed, down, NOW - timedelta(hours=1))
            assert len(await rt.check_health(NOW)) == 1
            assert await rt.check_health(NOW + timedelta(minutes=5)) == []  # not one per cycle
            rt.store.feeds.record_fetch(feed, FetchResult("not_modified", feed.url), NOW + timedelta(minutes=10))
            [recovered] = await rt.check_health(NOW + timedelta(minutes=11))
            assert "recovered" in recovered
            texts = [j.text for j in rt.store.outbox.due(datetime.now(UTC) + timedelta(days=2))]
            assert len(texts) == 2 and "HTTP 503" in texts[0]
            assert rt.store.feeds.health([feed])[0].health == "ok"
        finally:
            await rt.aclose()

    asyncio.run(go())


def test_a_feed_silent_far_longer_than_usual_is_reported_stale(settings):
    async def go():
        rt = runtime_for(settings)
        feed = rt.config.feeds.feeds[0]
        try:
            rt.store.feeds.record_fetch(feed, FetchResult("ok", feed.url), NOW - timedelta(days=30))
            for i in range(10):  # hourly news, ten days ago
                at = NOW - timedelta(days=10, hours=i)
                rt.store.intake.record_items(feed, [NewItem(Item(f"k{i}", "A", "t", "s", None, None, "en"))],
                                      at, backfill=False)
            [notice] = await rt.check_health(NOW)
            assert "silent" in notice
            assert rt.store.feeds.health([feed])[0].health == "stale"
        finally:
            await rt.aclose()

    asyncio.run(go())


def test_scheduler_polls_due_feeds_and_a_restart_resumes_from_the_database(settings, feed_server):
    reports = []

    async def run_ticks(n):
        rt = runtime_for(settings)
        scheduler = Scheduler(rt, reports.append)
        try:
            for _ in range(n):
                await scheduler.tick()
                await asyncio.sleep(0.3)
            await scheduler.stop()
        finally:
            await rt.aclose()

    asyncio.run(run_ticks(3))
    assert feed_server.hits["/a"] == 1  # interval 1s ± jitter: polled once in ~0.9 s
    assert [a.stored.title for r in reports for a in r.alerts] == ["Qwen 3 tops the charts"]
    reports.clear()
    asyncio.run(run_ticks(8))  # after the restart: the schedule comes from the database
    assert reports and all(r.alerts == [] for r in reports)  # nothing re-alerted


def test_describe_change_names_what_a_reload_changed(settings, tmp_path):
    old = load_config(settings)
    settings.feeds_path.write_text(
        settings.feeds_path.read_text() + "  - {name: B, url: 'http://127.0.0.1:9/b'}\n")
    new = load_config(settings)
    text = describe_change(old, new)
    assert "Feeds added: B" in text and text.startswith("Reloaded: 2 feeds")
    assert "Nothing changed." in describe_change(old, old)
