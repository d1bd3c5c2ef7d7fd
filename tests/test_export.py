"""newsbot export: stories with their sources, entities and lists, as CSV and JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from bot.models import Feed, Hit, Item
from bot.render.export import BOM, COLUMNS, export_csv, export_jsonl
from bot.store import NewItem, Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)
ZHIPU = Hit("zhipu", "llm", "智谱", "title", 0, 2)


def record(store: Store, feed: str, key: str, title: str, link: str, hits=(), lang="en",
           at: datetime = NOW) -> None:
    item = Item(key=key, feed=feed, title=title, summary="", link=link, published=at, lang=lang)
    store.intake.record_items(Feed(feed, f"https://{feed}.test/rss"), [NewItem(item, hits)], at,
                              backfill=False)


def filled(store: Store) -> Store:
    link = "https://wire.test/ernie5"
    record(store, "Reuters", "r1", "Baidu unveils Ernie 5.0", link, (BAIDU,))
    record(store, "36氪", "k1", "Baidu unveils Ernie 5.0", link, (BAIDU,), lang="zh")
    record(store, "IT之家", "z1", "智谱发布GLM-5", "https://ithome.test/glm5", (ZHIPU,), lang="zh")
    record(store, "Old", "o1", "Baidu earnings", "https://old.test/1", (BAIDU,),
           at=NOW - timedelta(days=60))
    record(store, "Weather", "w1", "Sunny in Shanghai", "https://w.test/1")  # no alert
    return store


def test_export_lists_alerted_stories_of_the_period_with_every_outlet(store: Store) -> None:
    stories = filled(store).stories.export(NOW - timedelta(days=30))
    assert [s.title for s in stories] == ["Baidu unveils Ernie 5.0", "智谱发布GLM-5"]
    ernie = stories[0]
    assert [s.feed for s in ernie.sources] == ["Reuters", "36氪"]
    assert ernie.entities == ("baidu",) and ernie.lists == ("llm",)
    assert ernie.first_seen == NOW and ernie.published == NOW
    only = store.stories.export(NOW - timedelta(days=30), entity="zhipu")
    assert [s.title for s in only] == ["智谱发布GLM-5"]
    assert store.stories.export(NOW - timedelta(days=30), list_id="deepfake") == []


def test_csv_has_a_header_opens_with_the_csv_module_and_round_trips(store: Store) -> None:
    stories = filled(store).stories.export(NOW - timedelta(days=30))
    text = export_csv(stories)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0]["outlets"] == "Reuters; 36氪" and rows[0]["sources"] == "2"
    assert rows[1]["title"] == "智谱发布GLM-5" and rows[1]["entities"] == "zhipu"
    assert not text.startswith(BOM)
    excel = export_csv(stories, bom=True)
    assert excel.startswith(BOM)
    assert list(csv.DictReader(io.StringIO(excel.removeprefix(BOM)))) == rows


def test_jsonl_keeps_lists_as_lists(store: Store) -> None:
    stories = filled(store).stories.export(NOW - timedelta(days=30))
    lines = [json.loads(line) for line in export_jsonl(stories).splitlines()]
    assert lines[0]["outlets"] == ["Reuters", "36氪"] and lines[0]["entities"] == ["baidu"]
    assert lines[0]["first_seen"] == NOW.isoformat()
