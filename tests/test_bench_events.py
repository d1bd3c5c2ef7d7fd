"""The measuring instruments of event clustering: bench/events.py's scores and the
near-identical miss rate of bench/near_dup.py, on tiny made-up sets with known answers; and
bench/events.py --lookup's synthetic store, which must hold the very rows record_items writes."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.models import Feed
from bot.store import NewItem, Store

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


events = _load("events")
near_dup = _load("near_dup")


def placed(id_: str, event: str, story: int | None, matched: bool = True) -> object:
    return events.Placed(id=id_, event=event, title=f"title {id_}", matched=matched, story=story)


def test_scores_of_a_known_assignment() -> None:
    # events A = a1 a2 a3, B = b1 b2 b3; stories 1 = a1 a2, 2 = a3 b1, 3 = b2 b3
    scores = events.score([
        placed("a1", "A", 1), placed("a2", "A", 1), placed("a3", "A", 2),
        placed("b1", "B", 2), placed("b2", "B", 3), placed("b3", "B", 3),
    ])
    assert (scores.tp, scores.fp, scores.fn) == (2, 1, 4)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 6)
    assert scores.f1 == pytest.approx(4 / 9)
    assert scores.alerts_per_event == pytest.approx(2.0)  # A in stories 1, 2; B in 2, 3
    assert [(s, a.id, b.id) for s, a, b in scores.wrong_merges] == [(2, "a3", "b1")]
    assert {e: sorted(s) for e, s in scores.splits.items()} == {"A": [1, 2], "B": [2, 3]}


def test_unmatched_items_are_not_scored_and_one_story_per_event_is_perfect() -> None:
    scores = events.score([
        placed("a1", "A", 1), placed("a2", "A", 1), placed("a3", "A", 1),
        placed("b1", "B", 2), placed("b2", "B", 2),
        placed("b3", "B", 1, matched=False),  # would be a wrong merge if it counted
    ])
    assert (scores.items, scores.matched, scores.events) == (6, 5, 2)
    assert (scores.precision, scores.recall, scores.alerts_per_event) == (1.0, 1.0, 1.0)
    assert scores.wrong_merges == [] and scores.splits == {}


def test_one_item_events_count_in_alerts_per_event_but_not_in_the_multi_item_average() -> None:
    scores = events.score([
        placed("a1", "A", 1), placed("a2", "A", 2), placed("a3", "A", 3),
        placed("n1", "N1", 4), placed("n2", "N2", 5), placed("n3", "N3", 6),
    ])
    assert scores.alerts_per_event == pytest.approx((3 + 1 + 1 + 1) / 4)
    assert scores.multi_events == 1 and scores.alerts_per_multi_event == pytest.approx(3.0)
    assert scores.recall == 0.0 and scores.precision == 1.0  # nothing predicted: no false pair


def test_the_production_path_records_and_reads_stories_back(tmp_path: Path) -> None:
    # three outlets carry each story under one link: the same story whatever the clustering
    rows = [
        ("a1", "A", "Reuters", "Baidu launches Ernie 4.5 chatbot", "https://b.example/ernie"),
        ("b1", "B", "IT之家", "阿里巴巴发布通义千问Qwen3系列模型", "https://a.example/qwen3"),
        ("a2", "A", "CNBC", "Baidu's Ernie 4.5 is here", "https://b.example/ernie"),
        ("b2", "B", "36氪", "通义千问Qwen3发布", "https://a.example/qwen3?utm_source=rss"),
        ("a3", "A", "SCMP", "Ernie 4.5 arrives from Baidu", "https://b.example/ernie"),
        ("b3", "B", "Pandaily", "Alibaba releases Qwen3 models", "https://a.example/qwen3"),
    ]
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(
        json.dumps({"id": i, "event": e, "lang": None, "outlet": o, "title": t, "summary": "",
                    "link": link, "published": f"2025-04-2{n}T08:00:00Z"}) + "\n"
        for n, (i, e, o, t, link) in enumerate(rows)), encoding="utf-8")
    scores, _ = events.run(path, ROOT / "rules")
    assert (scores.items, scores.matched, scores.events) == (6, 6, 2)
    assert (scores.precision, scores.recall, scores.alerts_per_event) == (1.0, 1.0, 1.0)


CJK = ["腾讯混元一口气开源五款3D生成大模型", "夸克全面接入Qwen3，阿里AI旗舰应用上线深度思考",
       "字节跳动豆包大模型日活突破一亿", "科大讯飞发布讯飞星火大模型新版本",
       "网信办发布第十批深度合成服务算法备案信息"]
LATIN = ["Baidu upgrades Ernie Bot with new reasoning mode",
         "Alibaba releases Qwen 3 open-weight models",
         "Moonshot AI's Kimi assistant adds long-context search",
         "Zhipu AI files for Hong Kong listing of its GLM business",
         "DeepSeek publishes R2 technical report on reasoning"]


def test_near_dup_pairs_are_near_identical_distinct_and_seeded() -> None:
    for titles, edit, floor in ((CJK, near_dup.cjk_edit, 80), (LATIN, near_dup.latin_edit, 96)):
        pairs = near_dup.make_pairs(titles, 25, edit, random.Random(5))
        assert len(pairs) == 25
        assert len({(p.original, p.copy) for p in pairs}) == 25
        assert all(p.copy != p.original and p.similarity >= floor for p in pairs)
        assert pairs == near_dup.make_pairs(titles, 25, edit, random.Random(5))


def test_near_dup_measurement_counts_a_miss_and_a_find(tmp_path: Path) -> None:
    pairs = near_dup.make_pairs(CJK, 25, near_dup.cjk_edit, random.Random(2))
    pairs += near_dup.make_pairs(LATIN, 25, near_dup.latin_edit, random.Random(2))
    same = near_dup.Pair(LATIN[0], LATIN[0], 100.0)  # the very title: always a candidate
    unrelated = near_dup.Pair(LATIN[1], "Tencent opens Hunyuan to outside developers", 0.0)
    result = near_dup.measure([*pairs, same, unrelated], tmp_path / "n.db")
    assert result.tested == 52
    assert unrelated in result.missed and same not in result.missed
    assert 0.0 < result.rate <= 1.0


# ---- --lookup: the synthetic store must be the store record_items would have written -------

ROWS = {
    "story_keys": "SELECT key, at, item_id, story_id FROM story_keys ORDER BY item_id, key",
    "item_events": "SELECT item_id, story_id, at, form FROM item_events ORDER BY item_id",
    "items": "SELECT id, feed, key, guid, title, summary, link, published, lang, first_seen, "
             "backfill, matched, story_id FROM items ORDER BY id",
    "stories": "SELECT id, first_item_id, created, title, at, updated, items FROM stories "
               "ORDER BY id",
}


@pytest.fixture(scope="module")
def world() -> object:
    return events.make_world(ROOT / "rules", entities=2)


def test_bulk_loader_writes_the_rows_record_items_writes(world: object, tmp_path: Path) -> None:
    # one event per (entity, action), every wording of its first happening as a report, the
    # events 4 days apart: record_items (its title and event decisions) then has one way to
    # group them, and the loader must write exactly its rows, story ids included
    by_kind: dict[tuple[int, str | None], int] = {}
    for seed, ws in sorted(world.by_seed.items()):
        w = world.wordings[ws[0]]
        by_kind.setdefault((w.entity, w.form.primary), seed)
    rng = random.Random(4)
    timeline = []
    for event, seed in enumerate(by_kind.values()):
        start = events.T0 + event * 4 * 86400
        ws = world.by_seed[seed][:4]
        offsets = [0] + sorted(rng.randrange(1, events.EVENT_SPAN_S) for _ in ws[1:])
        timeline += [(start + off, event, w) for off, w in zip(offsets, ws, strict=True)]
    world.timeline = sorted(timeline)
    assert len(world.timeline) >= 20 and len(by_kind) >= 10

    bulk = Store(tmp_path / "bulk.db")
    loader = events.Loader(bulk, world)
    loader.load(len(world.timeline) // 2 + 1, chunk=7)  # stories that grow across chunks too
    loader.load(len(world.timeline), chunk=7)

    recorded = Store(tmp_path / "recorded.db")
    for pos, (_, _, w) in enumerate(world.timeline):
        item, wording = loader.item(pos), world.wordings[w]
        recorded.intake.record_items(Feed(name=item.feed, url=f"https://{item.feed}.test/rss"),
                                     [NewItem(item, wording.hits, None, wording.form)],
                                     item.published, backfill=True)
    for table, sql in ROWS.items():
        mine, theirs = bulk.db.conn.execute(sql).fetchall(), recorded.db.conn.execute(sql).fetchall()
        assert mine == theirs, table
    assert len({row[3] for row in bulk.db.conn.execute(ROWS["story_keys"])}) == len(by_kind)
    bulk.close()
    recorded.close()


def test_timeline_is_ordered_and_spaced_and_probes_time_the_decision_path(
        world: object, tmp_path: Path) -> None:
    world.timeline = []
    events.extend_timeline(world, 3000, random.Random(1))
    line = world.timeline
    assert len(line) >= 3000 and line == sorted(line)
    first: dict[int, int] = {}
    for at, event, _ in line:
        first.setdefault(event, at)
        assert 0 <= at - first[event] < events.EVENT_SPAN_S
    spacing = (line[2999][0] - line[0][0]) / 2999
    assert events.SPACING_S * 0.8 < spacing < events.SPACING_S * 1.25
    store = Store(tmp_path / "lookup.db")
    loader = events.Loader(store, world)
    loader.load(3000)
    forms = events.probes(world, 3000, random.Random(2), n=50)
    assert all(f.at > line[2999][0] for f in forms)
    result = events.time_pass(store, events.Events(store.db), forms)
    assert result.candidates > 1 and result.rebuilt > 0 and result.mean > 0
    warm = events.time_pass(store, events.Events(store.db), forms, warm=True)
    assert warm.rebuilt == 0
    mean_rows, max_rows, max_keys = events.rows_read(store, forms)
    assert 0 < mean_rows <= max_rows <= max_keys * events.KEY_ROWS
    plan = " ".join(events.query_plan(store, forms[0]))
    assert "SEARCH k USING PRIMARY KEY" in plan and "SCAN k" not in plan
    store.close()
