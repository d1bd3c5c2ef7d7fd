"""Stories in the store: one story for the same news from several feeds (real SQLite files)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Feed, Hit, Item
from bot.store import NewItem, Recorded, Store
from bot.stories.identity import item_key
from bot.stories.keys import item_story_keys

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HIT = Hit(entity="baidu", list="llm", alias="Baidu", field="title", start=0, end=5)




def record(store: Store, feed: str, title: str, link: str, *, guid: str | None = None,
           at: datetime = NOON) -> Recorded:
    """Record one matched item of `feed` the way the pipeline does."""
    item = Item(key=item_key(guid, link, title, ""), feed=feed, title=title, summary="",
                link=link, published=at, lang=None, guid=guid)
    [recorded] = store.intake.record_items(Feed(name=feed, url=f"https://{feed}.test/rss"),
                                    [NewItem(item, (HIT,))], at, backfill=False)
    return recorded


def add(store: Store, feed: str, title: str, link: str, *, guid: str | None = None,
        at: datetime = NOON) -> tuple[int, bool]:
    """Record an item (record_items assigns its story): (story id, is a new story)."""
    recorded = record(store, feed, title, link, guid=guid, at=at)
    assert recorded.stored.story_id is not None
    return recorded.stored.story_id, recorded.kind == "alert"


def test_same_story_from_three_feeds_is_one_story(store: Store) -> None:
    first = add(store, "reuters", "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT",
                "https://www.reuters.com/tech/baidu-ernie-4/")
    utm = add(store, "twitter-mirror", "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT",
              "https://www.reuters.com/tech/baidu-ernie-4/?utm_source=twitter&utm_medium=social",
              at=NOON + timedelta(minutes=5))
    amp = add(store, "reuters-amp", "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT - Reuters",
              "https://amp.reuters.com/tech/baidu-ernie-4/amp", at=NOON + timedelta(minutes=9))
    reworded = add(store, "scmp", "Ernie 4.0 chatbot to rival ChatGPT unveiled by Baidu",
                   "https://www.scmp.com/tech/article/3238111/ernie", at=NOON + timedelta(hours=2))
    story_id, is_new = first
    assert is_new
    assert [utm, amp, reworded] == [(story_id, False)] * 3
    assert [i.feed for i in store.stories.items(story_id)] == [
        "reuters", "twitter-mirror", "reuters-amp", "scmp"]
    assert store.stories.sources([story_id]) == {story_id: 4}


def test_chinese_and_english_outlets_join_through_a_shared_guid(store: Store) -> None:
    en, _ = add(store, "xinhua-en", "Baidu releases Ernie 4.0 large model",
                "https://english.news.cn/20231017/ernie/c.html", guid="urn:xinhua:20231017:8841")
    zh, is_new = add(store, "xinhua-zh", "百度发布文心大模型4.0", "https://www.news.cn/20231017/c.html",
                     guid="urn:xinhua:20231017:8841", at=NOON + timedelta(hours=1))
    assert (zh, is_new) == (en, False)


def test_chinese_titles_from_two_outlets_are_one_story(store: Store) -> None:
    a, _ = add(store, "sina", "百度正式发布文心大模型4.0_新浪科技", "https://tech.sina.com.cn/i/1.shtml")
    b, is_new = add(store, "36kr", "百度今日正式發佈文心大模型4.0", "https://36kr.com/p/2450001",
                    at=NOON + timedelta(hours=3))
    assert (b, is_new) == (a, False)


def test_ernie_40_and_45_stay_two_stories(store: Store) -> None:
    a, _ = add(store, "reuters", "Baidu unveils Ernie 4.0", "https://reuters.com/ernie-40")
    b, is_new = add(store, "scmp", "Baidu unveils Ernie 4.5", "https://scmp.com/ernie-45")
    assert is_new and a != b


def test_same_title_days_later_is_a_new_story(store: Store) -> None:
    a, _ = add(store, "reuters", "China approves new batch of generative AI services",
               "https://reuters.com/cac-batch-1")
    b, is_new = add(store, "scmp", "China approves new batch of generative AI services",
                    "https://scmp.com/cac-batch-2", at=NOON + timedelta(days=5))
    assert is_new and a != b


def test_same_link_joins_even_days_later(store: Store) -> None:
    a, _ = add(store, "reuters", "China approves new batch of generative AI services",
               "https://reuters.com/cac-batch-1")
    b, is_new = add(store, "aggregator", "CAC approvals: the full list",
                    "https://www.reuters.com/cac-batch-1/", at=NOON + timedelta(days=9))
    assert (b, is_new) == (a, False)


def test_a_feeds_repeating_title_is_a_new_story_each_time(store: Store) -> None:
    a, _ = add(store, "scmp", "Morning briefing: China AI news", "https://scmp.com/brief/1")
    b, is_new = add(store, "scmp", "Morning briefing: China AI news", "https://scmp.com/brief/2",
                    at=NOON + timedelta(days=1))
    assert is_new and a != b


def test_a_failed_record_leaves_no_story_and_no_index_rows(store: Store) -> None:
    good = NewItem(Item(key="u:https://r.com/x", feed="reuters", title="Baidu unveils Ernie 4.0",
                        summary="", link="https://r.com/x", published=NOON, lang=None), (HIT,))
    bad = NewItem(Item(key="u:https://r.com/y", feed="reuters", title="Zhipu files for IPO",
                       summary="", link="https://r.com/y", published=NOON, lang=None),
                  (HIT, Hit("x", "llm", None, "title", 0, 1)))  # alias NOT NULL: the write fails
    with pytest.raises(sqlite3.IntegrityError):
        store.intake.record_items(Feed(name="reuters", url="https://reuters.test/rss"), [good, bad],
                           NOON, backfill=False)
    for table in ("items", "stories", "story_keys"):
        assert store.db.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table


def test_item_ids_given_again_after_a_rollback_are_read_with_their_new_titles(
        store: Store) -> None:
    """A rolled-back batch's item ids are given to the next batch's items: a lookup must
    compare with the titles stored under them, never with one the writer remembered from
    the rolled-back batch."""
    feed = Feed(name="reuters", url="https://reuters.test/rss")

    def new(title: str, *hits: Hit) -> NewItem:
        link = f"https://r.com/{abs(hash(title))}"
        return NewItem(Item(key=f"u:{link}", feed="reuters", title=title, summary="", link=link,
                            published=NOON, lang=None), hits or (HIT,))

    with pytest.raises(sqlite3.IntegrityError):
        store.intake.record_items(feed, [
            new("Baidu unveils Ernie 4.0 chatbot to rival ChatGPT"),
            new("Zhipu files for IPO", HIT, Hit("x", "llm", None, "title", 0, 1)),
        ], NOON, backfill=False)
    store.intake.record_items(feed, [new("Tencent posts record quarterly profit"),
                                     new("Alibaba cloud revenue jumps on AI demand")],
                              NOON, backfill=False)
    probe = item_story_keys(Item(key="k", feed="ft", title="Baidu unveils Ernie 4.0 chatbot to "
                                 "rival ChatGPT", summary="", link="https://ft.com/x",
                                 published=NOON, lang=None), seen=NOON)
    assert store.stories.find(probe, NOON) == []
    probe = item_story_keys(Item(key="k2", feed="ft", title="Alibaba cloud revenue jumps on AI "
                                 "demand", summary="", link="https://ft.com/y", published=NOON,
                                 lang=None), seen=NOON)
    [candidate] = store.stories.find(probe, NOON)
    assert candidate.title == "Alibaba cloud revenue jumps on AI demand"
    assert candidate.folded.tokens == probe.form.tokens


def test_an_item_stored_without_a_folded_title_is_folded_from_its_title(store: Store) -> None:
    """Items stored before title_forms existed (m015) are still candidates: their titles are
    folded when read."""
    add(store, "reuters", "Baidu unveils Ernie 4.0 chatbot", "https://reuters.com/ernie")
    store.db.conn.execute("DELETE FROM title_forms")
    store.stories.forget()
    probe = item_story_keys(Item(key="k", feed="ft", title="Baidu unveils Ernie 4.0 chatbot",
                                 summary="", link="https://ft.com/ernie", published=NOON,
                                 lang=None), seen=NOON)
    [candidate] = store.stories.find(probe, NOON)
    assert candidate.packed is None and candidate.folded == probe.form
    assert add(store, "ft", "Baidu unveils Ernie 4.0 chatbot", "https://ft.com/ernie")[1] is False


def test_the_writer_reads_a_candidates_feed_beside_its_form_or_from_the_item(
        store: Store) -> None:
    """The writer's lookup reads a candidate's feed from title_forms (m016); an item stored
    before m016 has none there and is read through items. Either way one feed's repeated
    title stays two stories, and another feed's joins."""
    for before_m016 in (False, True):
        title = f"Baidu unveils Ernie 4.{int(before_m016)} chatbot"
        story, _ = add(store, "reuters", title, f"https://reuters.com/{before_m016}/a")
        if before_m016:
            store.db.conn.execute("UPDATE title_forms SET feed = NULL")
        store.stories.forget()  # as after a restart: candidates are read back
        same_feed, new_story = add(store, "reuters", title, f"https://reuters.com/{before_m016}/b",
                                   at=NOON + timedelta(minutes=5))
        assert new_story and same_feed != story
        store.stories.forget()
        assert add(store, "ft", title, f"https://ft.com/{before_m016}",
                   at=NOON + timedelta(minutes=9)) == (story, False)


def test_find_story_returns_exact_candidates_first(store: Store) -> None:
    add(store, "scmp", "Baidu unveils Ernie 4.0 chatbot", "https://scmp.com/ernie")
    add(store, "reuters", "Something unrelated happened", "https://reuters.com/ernie")
    probe = item_story_keys(Item(key="k", feed="ft", title="Baidu unveils Ernie 4.0 chatbot",
                                 summary="", link="https://www.reuters.com/ernie/",
                                 published=NOON, lang=None), seen=NOON)
    candidates = store.stories.find(probe, NOON)
    assert [(c.feed, c.exact) for c in candidates] == [("reuters", True), ("scmp", False)]


@pytest.mark.parametrize("remembered", [True, False], ids=["recent", "after-restart"])
def test_find_story_reads_only_through_indexes_never_a_scan(store: Store, remembered: bool) -> None:
    add(store, "reuters", "Baidu unveils Ernie 4.0 chatbot", "https://reuters.com/ernie")
    if not remembered:
        store.stories.forget()  # as after a restart: the candidate's title is read back
    probe = item_story_keys(Item(key="k", feed="ft", title="Baidu unveils Ernie 4.0 chatbot",
                                 summary="", link="https://ft.com/ernie", published=NOON,
                                 lang=None), seen=NOON)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)  # the SQL, parameters expanded
    try:
        [candidate] = store.stories.find(probe, NOON)
    finally:
        store.db.conn.set_trace_callback(None)
    assert candidate.feed == "reuters"
    assert candidate.folded.tokens == probe.form.tokens
    # the keys of every probe at once (bands and exact keys; then the hot head keys, fewer
    # rows each); then the titles of candidates not placed recently
    assert len(statements) == (2 if remembered else 3)
    plans = [" / ".join(row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
             for sql in statements]
    # per key: one range of the (key, at) index, its start bounded by the key's last kept row
    for plan in plans[:2]:
        assert "SEARCH k USING PRIMARY KEY (key=? AND at>? AND at<?)" in plan, plan
        assert "SEARCH b USING PRIMARY KEY (key=?" in plan, plan
    if not remembered:  # its title and its folded form, stored beside it: no folding again
        assert "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)" in plans[2], plans[2]
        assert "SEARCH f USING INTEGER PRIMARY KEY (rowid=?)" in plans[2], plans[2]
        assert candidate.packed is not None
    for plan in plans:
        assert not any(f"SCAN {t}" in plan
                       for t in ("k", "b", "i", "f", "items", "story_keys")), plan


def test_schema_has_stories_story_keys_and_items_story_id(store: Store) -> None:
    tables = set(store.db.table_names())
    assert {"stories", "story_keys"} <= tables
    assert "story_id" in store.db["items"].columns_dict


def test_items_of_one_batch_join_a_story_the_batch_started(store: Store) -> None:
    """Two entries of one body with different GUIDs but the same article (a feed that lists
    an update as a new entry): one story, one alert, the second is another source."""
    feed = Feed(name="ithome", url="https://ithome.test/rss")
    items = [Item(key=f"g:{n}", feed="ithome", title=title, summary="",
                  link="https://www.ithome.com/0/761/120.htm", published=NOON, lang="zh",
                  guid=str(n))
             for n, title in [(1, "百度发布文心大模型4.5"), (2, "百度发布文心大模型4.5（更新）")]]
    first, second = store.intake.record_items(feed, [NewItem(i, (HIT,)) for i in items], NOON,
                                       backfill=False)
    assert (first.kind, second.kind) == ("alert", "source")
    assert second.alert_id == first.alert_id
    assert first.stored.story_id == second.stored.story_id == first.stored.id
    assert store.db.rows("SELECT items FROM stories WHERE id = ?",
                       [first.stored.story_id])[0]["items"] == 2


def test_text_story_keys_of_an_older_database_are_converted_and_still_join(db_path) -> None:
    """m006 turns m003's text index rows into integers: a story stored before the upgrade is
    still found by its band keys and by its URL."""
    store = Store(db_path)
    stored = record(store, "reuters", "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT",
                    "https://www.reuters.com/tech/baidu-ernie-4/")
    item_id, story_id = stored.stored.id, stored.stored.story_id
    keys = item_story_keys(Item(key="k", feed="reuters", title=stored.stored.title, summary="",
                                link=stored.stored.link, published=NOON, lang=None), seen=NOON)
    with store.db.tx() as conn:  # back to the m005 schema, with the rows m003 wrote
        conn.execute("DROP TABLE story_keys")
        conn.execute("""CREATE TABLE story_keys (key TEXT NOT NULL, at TEXT NOT NULL,
                        item_id INTEGER NOT NULL, story_id INTEGER NOT NULL,
                        PRIMARY KEY (key, at, item_id)) WITHOUT ROWID""")
        conn.executemany(
            "INSERT INTO story_keys VALUES (?, ?, ?, ?)",
            [(key, NOON.isoformat(timespec="milliseconds"), item_id, story_id)
             for key in [*keys.exact, *(f"b{k >> 48}:{k & ((1 << 48) - 1):x}" for k in keys.bands)]],
        )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_integer_story_keys'")
    store.close()

    upgraded = Store(db_path)
    assert upgraded.db.rows("SELECT COUNT(*) AS n FROM story_keys WHERE key < 0")[0]["n"] == 1
    reworded, is_new = add(upgraded, "scmp", "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT",
                           "https://www.scmp.com/tech/ernie", at=NOON + timedelta(hours=1))
    same_link, _ = add(upgraded, "mirror", "Something else entirely",
                       "https://www.reuters.com/tech/baidu-ernie-4/", at=NOON + timedelta(days=5))
    assert (reworded, is_new, same_link) == (story_id, False, story_id)
    upgraded.close()
