"""Full-text search (bot/store/search.py): Chinese and English words, phrases, filters."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Feed, Hit, Item
from bot.store import NewItem, Store
from bot.store.search import SearchError, index_text, parse_query

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
ZHIPU = Hit("zhipu", "llm", "智谱", "title", 0, 2)
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)


def record(store: Store, feed: str, key: str, title: str, summary: str = "",
           hits: tuple[Hit, ...] = (), at: datetime = NOW) -> None:
    item = Item(key=key, feed=feed, title=title, summary=summary, link=f"https://{feed}.test/{key}",
                published=at, lang=None)
    store.intake.record_items(Feed(feed, f"https://{feed}.test/rss"), [NewItem(item, hits)], at,
                              backfill=False)


def titles(store: Store, query: str) -> list[str]:
    return [i.title for i in store.search.find(query, now=NOW)]


@pytest.fixture
def filled(store: Store) -> Store:
    record(store, "a", "1", "智谱发布GLM-5大模型，性能对标国际一流", "北京智谱华章科技今日宣布", (ZHIPU,))
    record(store, "b", "2", "Baidu unveils Ernie 5.0, an open source model", "Search giant Baidu",
           (BAIDU,), at=NOW - timedelta(days=40))
    record(store, "c", "3", "一百度电能跑多远", "电动车测试")
    record(store, "d", "4", "The weather: sunny in Shanghai", "")
    return store


def test_a_two_character_chinese_name_is_found_inside_chinese_text(filled: Store) -> None:
    assert titles(filled, "智谱") == ["智谱发布GLM-5大模型，性能对标国际一流"]
    assert titles(filled, "智谱华章") == ["智谱发布GLM-5大模型，性能对标国际一流"]  # in the summary
    assert titles(filled, "谱智") == []  # the characters in another order are another word


def test_traditional_chinese_and_full_width_latin_find_the_same_items(filled: Store) -> None:
    assert titles(filled, "智譜") == titles(filled, "智谱")
    assert titles(filled, "ＢＡＩＤＵ") == titles(filled, "baidu") != []


def test_english_words_all_must_occur_and_phrases_keep_their_order(filled: Store) -> None:
    assert titles(filled, "ernie model") == ["Baidu unveils Ernie 5.0, an open source model"]
    assert titles(filled, "ernie weather") == []
    assert titles(filled, '"open source"') == ["Baidu unveils Ernie 5.0, an open source model"]
    assert titles(filled, '"source open"') == []


def test_filters_by_entity_list_and_period(filled: Store) -> None:
    assert titles(filled, "entity:zhipu") == ["智谱发布GLM-5大模型，性能对标国际一流"]
    assert titles(filled, "list:llm since:30d") == ["智谱发布GLM-5大模型，性能对标国际一流"]
    assert titles(filled, "baidu since:30d") == []
    assert titles(filled, "baidu since:60d") == ["Baidu unveils Ernie 5.0, an open source model"]


def test_bad_queries_say_how_to_write_them(filled: Store) -> None:
    with pytest.raises(SearchError, match="since:30d"):
        filled.search.find("baidu since:soon", now=NOW)
    with pytest.raises(SearchError, match="nothing to search for"):
        filled.search.find("   ", now=NOW)
    # FTS5 syntax in the words is text, never an operator or an error
    assert titles(filled, 'baidu OR NOT "*') == []


def test_one_line_per_story_the_best_ranked_first(store: Store) -> None:
    link = "https://wire.test/glm5"
    for feed in ("a", "b", "c"):  # one story: the same link from three feeds
        item = Item(key=feed, feed=feed, title="Zhipu ships GLM-5", summary="", link=link,
                    published=NOW, lang="en")
        store.intake.record_items(Feed(feed, f"https://{feed}.test/rss"), [NewItem(item)], NOW,
                                  backfill=False)
    record(store, "d", "x", "Zhipu GLM-5 GLM-5 GLM-5 benchmark", "GLM-5")
    found = store.search.find("glm", now=NOW)
    assert len(found) == 2 and len({i.story_id for i in found}) == 2
    assert found[0].title == "Zhipu GLM-5 GLM-5 GLM-5 benchmark"  # bm25: more occurrences


def test_index_text_is_folded_with_chinese_runs_as_bigrams() -> None:
    assert index_text("智谱发布 GLM-5").split() == ["智谱", "谱发", "发布", "glm", "5"]
    assert parse_query('智谱 "open source" entity:Zhipu since:2w').match == (
        '"智谱" AND "open source"')


def test_a_database_from_before_search_is_indexed_by_its_migration(db_path) -> None:
    store = Store(db_path)
    record(store, "a", "1", "百度发布文心大模型5.0", "", ())
    store.close()
    with sqlite3.connect(db_path) as conn:  # back to the schema before m008
        conn.execute("DROP TABLE items_fts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_search'")
    upgraded = Store(db_path)
    assert [i.title for i in upgraded.search.find("文心", now=NOW)] == ["百度发布文心大模型5.0"]
    upgraded.close()
