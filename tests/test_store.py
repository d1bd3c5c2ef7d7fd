from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Feed, FetchResult, Hit, Item, Validators
from bot.store import NewItem, Store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = Feed("Feed A", "http://127.0.0.1/a")






def item(key: str, title: str = "Baidu launches Ernie 5") -> Item:
    return Item(key=key, feed=FEED.name, title=title, summary="s", link=f"http://x/{key}",
                published=NOW - timedelta(hours=1), lang="en")


LLM_HIT = Hit("baidu", "llm", "Ernie", "title", 14, 19)
MENTION = Hit("baidu", "", "Baidu", "title", 0, 5)


def test_an_item_is_new_exactly_once_even_across_restarts(db_path):
    first = Store(db_path)
    assert len(first.intake.record_items(FEED, [NewItem(item("k"), [LLM_HIT])], NOW, backfill=False)) == 1
    first.close()
    again = Store(db_path)
    assert again.intake.record_items(FEED, [NewItem(item("k"), [LLM_HIT])], NOW, backfill=False) == []
    assert again.stats()["items"] == 1
    again.close()


def test_the_same_key_in_two_feeds_is_two_items(store):
    other = Feed("Feed B", "http://127.0.0.1/b")
    store.intake.record_items(FEED, [NewItem(item("k"))], NOW, backfill=False)
    store.intake.record_items(other, [NewItem(item("k"))], NOW, backfill=False)
    assert store.stats()["items"] == 2


def test_new_matched_item_queues_one_row_per_interested_chat_in_the_same_transaction(store):
    store.subscribers.subscribe(1, "private", "all", NOW)
    store.subscribers.subscribe(2, "group", "llm only", NOW)
    store.subscribers.set_follows(2, ["llm"])
    store.subscribers.subscribe(3, "private", "deepfake only", NOW)
    store.subscribers.set_follows(3, ["deepfake"])
    store.subscribers.subscribe(4, "private", "follows baidu", NOW)
    store.subscribers.set_follows(4, ["baidu"])
    [rec] = store.intake.record_items(FEED, [NewItem(item("k"), [LLM_HIT])], NOW, backfill=False)
    assert rec.queued == 3
    assert sorted(j.chat_id for j in store.outbox.due(NOW)) == [1, 2, 4]


def test_entity_mention_without_a_list_is_stored_but_not_alerted(store):
    store.subscribers.subscribe(1, "private", None, NOW)
    assert store.intake.record_items(FEED, [NewItem(item("k"), [MENTION])], NOW, backfill=False) == []
    assert store.stats()["items"] == 1 and store.stats()["alerts"] == 0
    assert store.outbox.due(NOW) == []


def test_backfill_is_recorded_and_shown_but_never_queued(store):
    store.subscribers.subscribe(1, "private", None, NOW)
    [rec] = store.intake.record_items(FEED, [NewItem(item("k"), [LLM_HIT])], NOW, backfill=True)
    assert rec.queued == 0 and rec.stored.backfill
    assert store.outbox.due(NOW + timedelta(days=1)) == []
    assert [i.id for i in store.stories.recent(5)] == [rec.stored.id]


def test_a_failed_write_leaves_nothing_half_recorded(store, monkeypatch):
    store.subscribers.subscribe(1, "private", None, NOW)
    bad = NewItem(item("k2"), [LLM_HIT, Hit("x", "llm", None, "title", 0, 1)])  # alias NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.intake.record_items(FEED, [NewItem(item("k1"), [LLM_HIT]), bad], NOW, backfill=False)
    assert store.stats()["items"] == 0 and store.outbox.counts()["pending"] == 0


def test_outbox_lifecycle_sent_retry_failed(store):
    for chat in (1, 2, 3):
        store.subscribers.subscribe(chat, "private", None, NOW)
    store.intake.record_items(FEED, [NewItem(item("k"), [LLM_HIT])], NOW, backfill=False)
    a, b, c = store.outbox.due(NOW)
    store.outbox.mark_sent(a.id, 111, NOW)
    store.outbox.mark_retry(b.id, NOW + timedelta(seconds=30), "timed out")
    store.outbox.mark_failed(c.id, "400 bad request", NOW)
    assert store.outbox.due(NOW) == []
    [retry] = store.outbox.due(NOW + timedelta(seconds=31))
    assert (retry.chat_id, retry.attempts) == (2, 1)
    assert store.outbox.counts() == {"pending": 1, "sent": 1, "failed": 1}


def test_deactivating_a_chat_drops_its_pending_alerts_and_stops_new_ones(store):
    store.subscribers.subscribe(1, "private", None, NOW)
    store.intake.record_items(FEED, [NewItem(item("k1"), [LLM_HIT])], NOW, backfill=False)
    assert store.subscribers.deactivate(1, "blocked the bot (403)", NOW)
    assert store.outbox.due(NOW) == []
    store.intake.record_items(FEED, [NewItem(item("k2"), [LLM_HIT])], NOW, backfill=False)
    assert store.outbox.due(NOW) == []
    assert store.subscribers.subscribe(1, "private", None, NOW) is True  # re-activated


def test_feed_state_remembers_validators_and_counts_errors(store):
    ok = FetchResult("ok", FEED.url, validators=Validators('"e1"', "Tue, 01 Jan", "h1"))
    store.feeds.record_fetch(FEED, ok, NOW)
    store.feeds.record_fetch(FEED, FetchResult("error", FEED.url, error="HTTP 503"), NOW + timedelta(minutes=1))
    store.feeds.record_fetch(FEED, FetchResult("error", FEED.url, error="HTTP 503"), NOW + timedelta(minutes=2))
    state = store.feeds.state(FEED.name)
    assert state.validators == Validators('"e1"', "Tue, 01 Jan", "h1")
    assert state.consecutive_errors == 2 and state.last_error == "HTTP 503"
    assert state.first_error_at == NOW + timedelta(minutes=1)
    store.feeds.record_fetch(FEED, FetchResult("not_modified", FEED.url, validators=state.validators), NOW + timedelta(minutes=3))
    state = store.feeds.state(FEED.name)
    assert state.consecutive_errors == 0 and state.first_error_at is None
    assert state.last_ok == NOW + timedelta(minutes=3)


def test_recent_filters_by_list_and_entity_newest_first(store):
    store.intake.record_items(FEED, [NewItem(item("a", "old"), [LLM_HIT])], NOW, backfill=False)
    store.intake.record_items(FEED, [NewItem(item("b", "new"), [Hit("cac", "deepfake", "CAC", "title", 0, 3)])],
                       NOW + timedelta(minutes=5), backfill=False)
    assert [i.title for i in store.stories.recent(5)] == ["new", "old"]
    assert [i.title for i in store.stories.recent(5, list_id="llm")] == ["old"]
    assert [i.title for i in store.stories.recent(5, entity="cac")] == ["new"]


def test_search_matches_every_word_and_no_wildcards(store):
    store.intake.record_items(FEED, [NewItem(item("a", "Zhipu GLM-5 tops 100% of tests"))], NOW, backfill=False)
    store.intake.record_items(FEED, [NewItem(item("b", "Zhipu IPO"))], NOW, backfill=False)
    assert [i.title for i in store.search.find("zhipu glm")] == ["Zhipu GLM-5 tops 100% of tests"]
    assert store.search.find("100%") and not store.search.find("1_0")


def test_database_of_a_newer_or_broken_kind_is_a_store_error(tmp_path):
    from bot.errors import StoreError

    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store(path)


def test_polls_recorded_together_fail_alone(store):
    """record_polls: one transaction for several feeds, but a feed whose write fails is rolled
    back alone (its items and its fetch record) and the others are kept."""
    from bot.store import FetchRecord, PollOutcome, PollRecord

    other = Feed("Feed B", "http://127.0.0.1/b")
    ok = FetchResult("ok", FEED.url, validators=Validators('"e1"', None, "h1"))
    bad = NewItem(item("k2"), [LLM_HIT, Hit("x", "llm", None, "title", 0, 1)])  # alias NOT NULL
    good, failed = store.intake.record_polls([
        PollRecord(FetchRecord(FEED, ok, NOW), [NewItem(item("k1"), [LLM_HIT])], backfill=False),
        PollRecord(FetchRecord(other, ok, NOW), [NewItem(item("k3")), bad], backfill=False),
    ])
    assert isinstance(good, PollOutcome) and good.new == 1 and len(good.recorded) == 1
    assert isinstance(failed, sqlite3.IntegrityError)
    assert store.stats()["items"] == 1
    assert store.feeds.state(FEED.name).validators.etag == '"e1"'
    assert store.feeds.state(other.name) is None
