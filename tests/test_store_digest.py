"""Digest mode in the store: when a chat is due (time zones, DST), held rows, atomic release.

Held rows come from record_items itself: for a chat in digest mode, an alert's outbox row
(alert, chat) is inserted in state 'held' instead of 'pending'.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Feed, Hit, Item
from bot.schedule import digest_moment, parse_hhmm
from bot.store import NewItem, Store

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = Feed("Feed A", "http://127.0.0.1/a")
LLM_HIT = Hit("baidu", "llm", "Ernie", "title", 14, 19)
CHAT = 42






def item(key: str, title: str = "Baidu launches Ernie 5", feed: Feed = FEED) -> Item:
    return Item(key=key, feed=feed.name, title=title, summary="s", link=f"http://x/{key}",
                published=NOON - timedelta(hours=1), lang="en")


def hold(store: Store, key: str, now: datetime = NOON, *, feed: Feed = FEED,
         title: str = "Baidu launches Ernie 5") -> int:
    """Record a matched item (held for the chats in digest mode); its item id."""
    [recorded] = store.intake.record_items(feed, [NewItem(item(key, title, feed), [LLM_HIT])], now,
                                    backfill=False)
    return recorded.stored.id


def states(store: Store, chat_id: int = CHAT) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT state FROM outbox WHERE chat_id = ? ORDER BY id", [chat_id]).fetchall()]


def digest_chat(store: Store, at: str, tz: str, since: datetime, chat_id: int = CHAT) -> None:
    store.subscribers.subscribe(chat_id, "private", "reader", since)
    store.digests.set(chat_id, at, tz, since)


def due_ids(store: Store, now: datetime) -> list[int]:
    return [s.chat_id for s in store.digests.due_chats(now)]


# ---------------------------------------------------------------------------- when a chat is due

def test_a_chat_is_due_once_its_local_time_has_passed_today(store):
    # 08:00 in Shanghai (UTC+8, no DST) is 00:00 UTC.
    digest_chat(store, "08:00", "Asia/Shanghai", datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    assert due_ids(store, datetime(2026, 11, 26, 23, 59, tzinfo=UTC)) == []
    assert due_ids(store, datetime(2026, 11, 27, 0, 0, tzinfo=UTC)) == [CHAT]
    assert due_ids(store, datetime(2026, 11, 27, 9, 30, tzinfo=UTC)) == [CHAT]  # late is due


def test_switching_on_waits_for_the_next_hhmm_instead_of_sending_at_once(store):
    # At 10:00 in Berlin, "08:00" has passed today: the first digest is tomorrow's.
    set_at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    digest_chat(store, "08:00", "Europe/Berlin", set_at)
    assert due_ids(store, set_at + timedelta(hours=12)) == []
    assert due_ids(store, datetime(2026, 11, 28, 6, 59, tzinfo=UTC)) == []
    assert due_ids(store, datetime(2026, 11, 28, 7, 0, tzinfo=UTC)) == [CHAT]


def test_after_its_digest_a_chat_is_not_due_again_until_the_next_day(store):
    digest_chat(store, "18:30", "UTC", NOON)
    first = datetime(2026, 11, 27, 18, 30, 5, tzinfo=UTC)
    assert due_ids(store, first) == [CHAT]
    store.digests.release(CHAT, [], first)
    assert due_ids(store, first + timedelta(hours=5)) == []  # 23:30 the same day
    assert due_ids(store, datetime(2026, 11, 28, 18, 29, tzinfo=UTC)) == []
    assert due_ids(store, datetime(2026, 11, 28, 18, 30, tzinfo=UTC)) == [CHAT]


def test_the_digest_keeps_its_local_time_across_a_dst_change(store):
    # New York: 08:00 is 13:00 UTC in winter time (EST) and 12:00 UTC in summer time (EDT);
    # the clocks sprang forward on 2026-03-08.
    digest_chat(store, "08:00", "America/New_York", datetime(2026, 3, 7, 0, 0, tzinfo=UTC))
    assert due_ids(store, datetime(2026, 3, 7, 12, 30, tzinfo=UTC)) == []
    assert due_ids(store, datetime(2026, 3, 7, 13, 0, tzinfo=UTC)) == [CHAT]
    store.digests.release(CHAT, [], datetime(2026, 3, 7, 13, 0, tzinfo=UTC))
    assert due_ids(store, datetime(2026, 3, 9, 11, 59, tzinfo=UTC)) == []
    assert due_ids(store, datetime(2026, 3, 9, 12, 0, tzinfo=UTC)) == [CHAT]


def test_a_time_skipped_by_spring_forward_comes_right_after_the_gap():
    # 02:30 does not exist in New York on 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    moment = digest_moment("02:30", "America/New_York", datetime(2026, 3, 8, 12, tzinfo=UTC))
    assert moment == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_a_time_repeated_by_fall_back_gives_one_digest(store):
    # 01:30 happens twice in New York on 2026-11-01: at 05:30 UTC (EDT) and 06:30 UTC (EST).
    digest_chat(store, "01:30", "America/New_York", datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert due_ids(store, datetime(2026, 11, 1, 5, 29, tzinfo=UTC)) == []
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert due_ids(store, first) == [CHAT]
    store.digests.release(CHAT, [], first)
    assert due_ids(store, datetime(2026, 11, 1, 6, 31, tzinfo=UTC)) == []


def test_only_active_chats_in_digest_mode_are_ever_due(store):
    since = datetime(2026, 11, 26, 12, tzinfo=UTC)
    store.subscribers.subscribe(1, "private", "immediate", since)
    digest_chat(store, "09:00", "UTC", since, chat_id=2)
    digest_chat(store, "09:00", "UTC", since, chat_id=3)
    store.subscribers.unsubscribe(3, since)
    assert due_ids(store, NOON) == [2]


def test_an_unknown_stored_zone_counts_as_utc_rather_than_breaking_every_digest(store):
    digest_chat(store, "09:00", "Mars/Olympus_Mons", datetime(2026, 11, 26, 12, tzinfo=UTC))
    assert due_ids(store, datetime(2026, 11, 27, 9, 0, tzinfo=UTC)) == [CHAT]


def test_hhmm_is_a_24_hour_clock_time():
    assert parse_hhmm("08:05") == (8, 5)
    assert parse_hhmm("7:30") == (7, 30)
    assert parse_hhmm("23:59") == (23, 59)
    for bad in ("24:00", "12:60", "8", "8:5", "08-00", "ab:cd", "", "+1:00", "123:00"):
        assert parse_hhmm(bad) == (-1, -1), bad


def test_the_subscriber_shows_its_digest_setting(store):
    store.subscribers.subscribe(CHAT, "private", "reader", NOON)
    assert (store.subscribers.get(CHAT).digest_at, store.subscribers.get(CHAT).digest_tz) == (None, "UTC")
    store.digests.set(CHAT, "07:45", "Asia/Tokyo", NOON)
    sub = store.subscribers.get(CHAT)
    assert (sub.digest_at, sub.digest_tz) == ("07:45", "Asia/Tokyo")


# ---------------------------------------------------------------------------- held rows

def test_held_rows_are_never_due_for_immediate_delivery(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    assert states(store) == ["held"]
    assert store.outbox.due(NOON + timedelta(days=1)) == []


def test_switching_off_releases_held_rows_as_pending_alerts(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    hold(store, "k2")
    off_at = NOON + timedelta(hours=2)
    assert store.digests.set(CHAT, None, "UTC", off_at) == 2
    assert states(store) == ["pending", "pending"]
    jobs = store.outbox.due(off_at)
    assert [j.item.title for j in jobs] == ["Baidu launches Ernie 5"] * 2
    assert due_ids(store, off_at + timedelta(days=1)) == []
    assert store.subscribers.get(CHAT).digest_at is None


def test_held_alerts_come_with_hits_their_outbox_row_and_story_sources(store):
    digest_chat(store, "08:00", "UTC", NOON)
    story_item = hold(store, "k1")
    hold(store, "k1-elsewhere", feed=Feed("Feed B", "http://127.0.0.1/b"))  # same story
    other = hold(store, "k2", title="Alibaba's Qwen 3 tops the charts, Baidu's Ernie follows")
    held = store.digests.held(CHAT)
    assert [h.id for h in held] == [story_item, other]  # one alert per story
    assert all(h.hits == (LLM_HIT,) for h in held)
    assert held[0].story_id == store.stories.story_of(story_item) and held[0].sources == 2
    assert held[1].story_id is not None and held[1].sources == 1
    assert sorted(h.outbox_id for h in held) == sorted(
        r[0] for r in store.db.execute("SELECT id FROM outbox WHERE chat_id = ?", [CHAT]))
    assert store.digests.held(CHAT + 1) == []


# ---------------------------------------------------------------------------- releasing

def test_release_queues_the_digest_retires_held_rows_and_moves_last_digest(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    hold(store, "k2")
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    ids = [h.outbox_id for h in store.digests.held(CHAT)]
    assert store.digests.release(CHAT, ["<b>Digest</b> 1", "part 2"], at, outbox_ids=ids) == 2
    assert states(store) == ["digested", "digested", "pending", "pending"]
    assert [j.text for j in store.outbox.due(at)] == ["<b>Digest</b> 1", "part 2"]
    assert due_ids(store, at + timedelta(hours=1)) == []


def test_a_row_held_after_the_digest_was_read_waits_for_the_next_one(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    ids = [h.outbox_id for h in store.digests.held(CHAT)]
    hold(store, "late")  # arrives while the digest is being rendered
    store.digests.release(CHAT, "digest", NOON, outbox_ids=ids)
    assert [h.title for h in store.digests.held(CHAT)] == ["Baidu launches Ernie 5"]
    assert states(store) == ["digested", "held", "pending"]


def test_releasing_the_same_rows_twice_queues_the_digest_once(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    ids = [h.outbox_id for h in store.digests.held(CHAT)]
    assert store.digests.release(CHAT, "digest", NOON, outbox_ids=ids) == 1
    assert store.digests.release(CHAT, "digest", NOON, outbox_ids=ids) == 0
    assert [j.text for j in store.outbox.due(NOON)] == ["digest"]


def test_an_empty_digest_queues_nothing_but_counts_as_done(store):
    digest_chat(store, "08:00", "UTC", NOON)
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert store.digests.release(CHAT, [], at, outbox_ids=[]) == 0
    assert store.outbox.due(at) == [] and due_ids(store, at) == []


def test_a_failed_release_changes_nothing(store):
    digest_chat(store, "08:00", "UTC", NOON)
    hold(store, "k1")
    ids = [h.outbox_id for h in store.digests.held(CHAT)]
    # The last statement of the release fails: the notice and the retired rows roll back.
    store.db.execute("""CREATE TRIGGER fail_last_digest BEFORE UPDATE OF last_digest ON subscribers
                        BEGIN SELECT RAISE(ABORT, 'disk full'); END""")
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        store.digests.release(CHAT, "digest", at, outbox_ids=ids)
    assert states(store) == ["held"]
    assert store.outbox.due(at) == [] and due_ids(store, at) == [CHAT]


def test_a_released_digest_survives_a_restart_and_is_not_due_again(db_path):
    first = Store(db_path)
    digest_chat(first, "08:00", "UTC", NOON)
    hold(first, "k1")
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    first.digests.release(CHAT, "digest", at,
                         outbox_ids=[h.outbox_id for h in first.digests.held(CHAT)])
    first.close()  # as if the process died before the worker sent it
    again = Store(db_path)
    try:
        assert [j.text for j in again.outbox.due(at)] == ["digest"]
        assert due_ids(again, at + timedelta(minutes=1)) == []
        assert again.digests.held(CHAT) == []
    finally:
        again.close()
