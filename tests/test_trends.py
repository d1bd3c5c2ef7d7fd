"""Trends: stories (not items) per entity per day or week, and the change against before."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

from bot.models import Feed, Hit, Item
from bot.render.trends import build_trend, caption, trend_csv, trend_json
from bot.store import NewItem, Store

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
ZHIPU = Hit("zhipu", "llm", "智谱", "title", 0, 2)
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)


def record(store: Store, feed: str, key: str, link: str, hits, at: datetime) -> None:
    item = Item(key=key, feed=feed, title=f"story {key}", summary="", link=link, published=at,
                lang="en")
    store.intake.record_items(Feed(feed, f"https://{feed}.test/"), [NewItem(item, hits)], at,
                              backfill=False)


def test_a_story_of_three_items_counts_once_per_entity_and_day(store: Store) -> None:
    at = DAY0 + timedelta(days=2, hours=9)
    for feed in ("a", "b", "c"):  # one story: the same link in three feeds
        record(store, feed, "z1", "https://wire.test/z1", (ZHIPU,), at)
    record(store, "a", "z2", "https://wire.test/z2", (ZHIPU, BAIDU), at + timedelta(hours=1))
    record(store, "a", "b1", "https://wire.test/b1", (BAIDU,), at + timedelta(days=1))
    rows = store.stories.entity_days(DAY0, DAY0 + timedelta(days=7))
    assert rows == [("baidu", "2026-03-03", 1), ("zhipu", "2026-03-03", 2),
                    ("baidu", "2026-03-04", 1)]
    assert store.stories.entity_days(DAY0, DAY0 + timedelta(days=7), entities=["baidu"]) == [
        ("baidu", "2026-03-03", 1), ("baidu", "2026-03-04", 1)]


def test_the_top_entities_with_their_change_against_the_previous_period() -> None:
    current = [("zhipu", "2026-03-02", 10), ("zhipu", "2026-03-05", 4), ("baidu", "2026-03-02", 3),
               ("kimi", "2026-03-07", 1)]
    previous = [("zhipu", "2026-02-25", 5), ("baidu", "2026-02-24", 6)]
    trend = build_trend(current, previous, first_day=date(2026, 3, 1), days=7, top=2,
                        name={"zhipu": "Zhipu", "baidu": "Baidu"}.get)
    assert [s.entity for s in trend.series] == ["zhipu", "baidu"]  # kimi is not top 2
    zhipu = trend.series[0]
    assert zhipu.counts == (0, 10, 0, 0, 4, 0, 0) and zhipu.total == 14 and zhipu.change == 9
    assert caption(trend) == "Zhipu 14 stories, +9\nBaidu 3 stories, -3"


def test_a_quarter_is_counted_in_weeks_and_named_entities_are_kept_even_at_zero() -> None:
    trend = build_trend([("zhipu", "2026-03-09", 2), ("zhipu", "2026-03-10", 1)], [],
                        first_day=date(2026, 3, 1), days=90, entities=["zhipu", "baidu"])
    assert trend.bucket_days == 7 and len(trend.buckets) == 13
    assert trend.series[0].counts[1] == 3  # 9 and 10 March fall in the second week
    assert [s.entity for s in trend.series] == ["zhipu", "baidu"]
    assert trend.series[1].total == 0


def test_json_and_csv_carry_the_same_numbers() -> None:
    trend = build_trend([("zhipu", "2026-03-02", 2)], [], first_day=date(2026, 3, 1), days=3)
    data = json.loads(trend_json(trend))
    assert data["series"][0]["counts"] == [0, 2, 0] and data["buckets"][0] == "2026-03-01"
    rows = list(csv.DictReader(io.StringIO(trend_csv(trend))))
    assert [(r["bucket_start"], r["stories"]) for r in rows] == [
        ("2026-03-01", "0"), ("2026-03-02", "2"), ("2026-03-03", "0")]


def test_the_chart_is_a_real_png_of_the_promised_size() -> None:
    from matplotlib.image import imread

    from bot.render.chart import HEIGHT, WIDTH, draw_trend, png_size

    trend = build_trend([("zhipu", "2026-03-02", 3), ("baidu", "2026-03-04", 1)], [],
                        first_day=date(2026, 3, 1), days=7, name={"zhipu": "Zhipu"}.get)
    data = draw_trend(trend, "Stories per entity, last 7 days")
    assert png_size(data) == (WIDTH, HEIGHT)
    pixels = imread(io.BytesIO(data), format="png")  # decoded, not just bytes
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert pixels[..., :3].min() < 0.3 and pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0]


def test_chinese_names_are_drawn_with_a_font_that_has_their_glyphs() -> None:
    import pytest

    from bot.render.chart import cjk_font, draw_trend

    if cjk_font() is None:
        pytest.skip("no CJK font installed (make fonts: Debian fonts-wqy-microhei)")
    trend = build_trend([("zhipu", "2026-03-02", 3)], [], first_day=date(2026, 3, 1), days=7,
                        name={"zhipu": "智谱"}.get)
    # a missing glyph is a warning, and warnings are errors in this suite
    assert draw_trend(trend, "最近7天 智谱")
