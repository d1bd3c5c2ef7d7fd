"""Event clustering on a labeled events file, through the production path: are the items that
report one happening one story, and the others not?

    .venv/bin/python bench/events.py                                   # ../shared/eval/events_dev.jsonl
    .venv/bin/python bench/events.py --data tests/data/events_check.jsonl
    .venv/bin/python bench/events.py --verbose                         # every wrong merge and split

The file (../shared/eval/EVENTS.md: id, event, lang, outlet, title, summary, link, published)
is recorded the way a poll records it: a fresh temporary store opened by the bot's own
`Runtime` (empty feeds, the shipped rules/), items in `published` order, one feed per outlet,
each item read by the pipeline's own reader (`Pipeline.reader`, as a parse worker reads it:
hits, and whatever else the pipeline hands the store, such as an event reading), then recorded alone with
`store.intake.record_items(feed, [new_item], now=published, backfill=False)`. Each item's story
is read back from the database. Nothing here decides what a story is: when the clustering
changes, this measures the new one.

Scored over MATCHED items (at least one hit with a list), as EVENTS.md says:
- pairwise precision / recall / F1 (a pair is predicted same when the two items share a story,
  true same when they share `event`);
- alerts per event: distinct stories among an event's matched items, averaged over the events
  with a matched item (ideal 1.0; the target applies to this one). A one-item event (most
  hard negatives) always scores 1.0, so the average over the events of two or more matched
  items, the ones that can split, is printed beside it;
- wrong merges: pairs of different events in one story, with their titles;
- split events: events spread over more than one story, with each story's titles
  (the first 20 wrong-merge pairs and split events are listed; --verbose lists all).
Items that matched nothing are counted, not scored (they are never alerted).

Targets: P ≥ 0.97, R ≥ 0.90, alerts per event ≤ 1.15.

    .venv/bin/python bench/events.py --lookup                          # 10k, 100k, 1M stored
    .venv/bin/python bench/events.py --lookup --sizes 10000,100000

--lookup: the cost of placing one item by its event, at 10k, 100k and 1M stored items. Target
(the issue's): candidate retrieval stays indexed (no scan of stored titles), the lookup stays
flat from 10k to 1M stored items, and its mean is < 1 ms at 1M items. Measured: the decision
path of `store.intake` (`_event_story`) for a matched item that no title joined —
`store.events.candidates(conn, event_index_keys(form), form.at)` (one indexed query, at most
KEY_ROWS index rows per key), `store.events.profiles(conn, candidates)` (cached per story) and
`choose_event(form, profiles, idf)` — through the real Store and a fresh Events per size.
The store holds synthetic matched items, one every 30 s on average (1M items ≈ 1 year): 40
watched entities of the shipped rules with a Zipf popularity, their products with versions,
launches, price cuts, funding, share moves, outages, probes, lawsuits, in English and Chinese,
as events of 1–8 reports within 4 hours. Each report's form is read by the bot's own
matcher and `event_form` (once per wording; reports of one wording differ only in time); its
rows (items, stories, item_events, story_keys: URL, title and event keys) are bulk-loaded as
`record_items` would write them (tests/test_bench_events.py checks that on a few events;
hits, alerts and outbox rows are left out: the lookup reads none). 2,000 probes then arrive
"now", at the end of the timeline: half a new report of an event of the last 6 hours, half a
new event. Two passes per size: first touch (a fresh Events, probes in arrival order: each
finds only the profiles earlier probes left in its cache, the rest are rebuilt from stored
forms) and warm (each probe run once untimed just before: its candidates' profiles cached).
SQLite's page cache is warm in both (the store was just written through the same connection).
Printed per pass: mean and p99 µs of the whole path, mean candidate stories, the mean µs of
each part (decision = choose_event, query = candidates, profiles), profiles rebuilt per probe;
then the index rows within the candidate query's reach per probe against its bound (event
keys × KEY_ROWS), and SQLite's plan of the production candidate query. Document frequencies
are built once before timing (once per process in the bot) and reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.config import FeedsConfig
from bot.ingest.pipeline import new_items
from bot.ingest.reader import ReadFeed
from bot.match.matching import match_item
from bot.match.rules import load_watchlists
from bot.models import Feed, Hit, Item, ParsedFeed
from bot.run.configuration import Config
from bot.run.runtime import Runtime
from bot.settings import Settings
from bot.store import NewItem, Store
from bot.store.db import ts
from bot.store.events import _CACHE_STORIES, KEY_ROWS, MAX_CANDIDATES, Events
from bot.stories.events import WINDOW_S, choose_event
from bot.stories.forms import EventForm, event_form, event_index_keys, form_to_json
from bot.stories.identity import item_key
from bot.stories.keys import exact_index, exact_keys, story_keys
from bot.stories.lexicon import build_lexicon

DATA = REPO.parent / "shared" / "eval" / "events_dev.jsonl"
TARGET_P, TARGET_R, TARGET_ALERTS = 0.97, 0.90, 1.15
SHOWN = 20  # lines of wrong merges (and events of splits) printed without --verbose


@dataclass(frozen=True, slots=True)
class Labeled:
    """One item of a labeled events file."""

    id: str
    event: str
    lang: str | None
    outlet: str
    title: str
    summary: str
    link: str | None
    published: datetime


@dataclass(frozen=True, slots=True)
class Placed:
    """A labeled item after recording: its label, whether it matched, the story it got."""

    id: str
    event: str
    title: str
    matched: bool
    story: int | None


@dataclass(frozen=True, slots=True)
class Scores:
    """The metrics of one run (see the module docstring)."""

    items: int
    matched: int
    events: int  # events with at least one matched item
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    alerts_per_event: float
    multi_events: int  # events with at least two matched items: the ones that can split
    alerts_per_multi_event: float
    wrong_merges: list[tuple[int, Placed, Placed]] = field(default_factory=list)
    splits: dict[str, dict[int, list[Placed]]] = field(default_factory=dict)


def load_events(path: Path) -> list[Labeled]:
    """The labeled items of a JSON-lines events file, in file order."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Labeled(
                id=d["id"], event=d["event"], lang=d.get("lang"), outlet=d["outlet"],
                title=d["title"], summary=d.get("summary") or "", link=d.get("link"),
                published=datetime.fromisoformat(d["published"]),
            ))
        except (KeyError, ValueError) as exc:
            raise SystemExit(f"{path}:{n}: not an events item ({exc!r})") from None
    return out


def _feed(outlet: str) -> Feed:
    slug = re.sub(r"[^a-z0-9]+", "-", outlet.lower()).strip("-") or outlet.encode().hex()
    return Feed(name=outlet, url=f"https://{slug}.test/rss")


@contextmanager
def production(rules: Path, db: Path) -> Iterator[Runtime]:
    """The bot's own Runtime on a fresh database: no feeds, the shipped rules."""
    watchlists = load_watchlists(rules)
    settings = Settings(rules_dir=rules, db_path=db, feeds_path=db.with_suffix(".yaml"))
    runtime = Runtime(settings, Config(FeedsConfig(feeds=()), watchlists), workers=0)
    try:
        yield runtime
    finally:
        asyncio.run(runtime.aclose())


def prepare(runtime: Runtime, item: Item) -> NewItem:
    """The item as the pipeline hands it to the store: matched (and read as an event, in a
    build that does that) by the pipeline's own reader, so the bench follows it."""
    [new] = new_items(ReadFeed(ParsedFeed(items=[item]), {},
                               runtime.pipeline.reader.read([item])))
    return new


def record(labeled: Sequence[Labeled], runtime: Runtime) -> list[Placed]:
    """Record every item, in published order, one feed per outlet; read back its story."""
    store: Store = runtime.store
    placed = []
    for it in sorted(labeled, key=lambda x: x.published):  # stable: file order on ties
        item = Item(key=item_key(None, it.link, it.title, it.summary), feed=it.outlet,
                    title=it.title, summary=it.summary, link=it.link, published=it.published,
                    lang=it.lang)
        new = prepare(runtime, item)
        store.intake.record_items(_feed(it.outlet), [new], now=it.published, backfill=False)
        rows = store.db.rows("SELECT id FROM items WHERE feed = ? AND key = ?",
                             [it.outlet, item.key])
        story = store.stories.story_of(rows[0]["id"]) if rows else None  # type: ignore[arg-type]
        placed.append(Placed(it.id, it.event, it.title, new.matched, story))
    return placed


def _c2(n: int) -> int:
    return n * (n - 1) // 2


def score(placed: Sequence[Placed]) -> Scores:
    """Pairwise P/R/F1, alerts per event, wrong merges and splits over the matched items.

    An item without a story (never expected) counts as a story of its own.
    """
    matched = [p for p in placed if p.matched]
    stories = {id(p): (p.story if p.story is not None else -1 - n) for n, p in enumerate(matched)}
    joint = Counter((p.event, stories[id(p)]) for p in matched)
    by_event = Counter(p.event for p in matched)
    by_story = Counter(stories.values())
    tp = sum(_c2(n) for n in joint.values())
    fp = sum(_c2(n) for n in by_story.values()) - tp
    fn = sum(_c2(n) for n in by_event.values()) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    event_stories: dict[str, dict[int, list[Placed]]] = defaultdict(dict)
    members: dict[int, list[Placed]] = defaultdict(list)
    for p in matched:
        event_stories[p.event].setdefault(stories[id(p)], []).append(p)
        members[stories[id(p)]].append(p)
    alerts = (sum(len(s) for s in event_stories.values()) / len(event_stories)
              if event_stories else 0.0)
    multi = [s for e, s in event_stories.items() if by_event[e] > 1]
    alerts_multi = sum(len(s) for s in multi) / len(multi) if multi else 0.0
    wrong = [(story, a, b) for story, ps in members.items()
             for a, b in itertools.combinations(ps, 2) if a.event != b.event]
    splits = {e: s for e, s in event_stories.items() if len(s) > 1}
    return Scores(items=len(placed), matched=len(matched), events=len(event_stories), tp=tp,
                  fp=fp, fn=fn, precision=precision, recall=recall, f1=f1,
                  alerts_per_event=alerts, multi_events=len(multi),
                  alerts_per_multi_event=alerts_multi, wrong_merges=wrong, splits=splits)


def _cut(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def report(name: str, scores: Scores, reading: str, *, verbose: bool = False) -> None:
    """Print the table, the wrong merges and the split events."""
    unmatched = scores.items - scores.matched
    print(f"\n## events: {name} — {scores.items} items, {scores.matched} matched "
          f"({unmatched} matched nothing: not scored), {scores.events} events with a matched item")
    print(f"item preparation: {reading}\n")

    def ok(good: bool) -> str:
        return "ok" if good else "MISSED"

    print("| metric | value | target | |")
    print("|---|---|---|---|")
    print(f"| pairwise precision | {scores.precision:.3f} | ≥ {TARGET_P} "
          f"| {ok(scores.precision >= TARGET_P)} |")
    print(f"| pairwise recall | {scores.recall:.3f} | ≥ {TARGET_R} "
          f"| {ok(scores.recall >= TARGET_R)} |")
    print(f"| F1 | {scores.f1:.3f} | | |")
    print(f"| alerts per event | {scores.alerts_per_event:.2f} | ≤ {TARGET_ALERTS} "
          f"| {ok(scores.alerts_per_event <= TARGET_ALERTS)} |")
    print(f"| alerts per event of ≥ 2 matched items ({scores.multi_events}) "
          f"| {scores.alerts_per_multi_event:.2f} | (ideal 1.0) | |")
    print(f"| wrong-merge pairs | {len(scores.wrong_merges)} | | |")
    print(f"| split events | {len(scores.splits)} of {scores.events} | | |")
    print(f"(pairs: tp {scores.tp}, fp {scores.fp}, fn {scores.fn})")

    limit = None if verbose else SHOWN
    print(f"\nwrong merges ({len(scores.wrong_merges)} pairs):")
    for story, a, b in scores.wrong_merges[:limit]:
        print(f"  story {story}: [{a.id}] {_cut(a.title, 50)}  ≠  [{b.id}] {_cut(b.title, 50)}")
    if limit is not None and len(scores.wrong_merges) > limit:
        print(f"  … {len(scores.wrong_merges) - limit} more (--verbose)")

    print(f"\nsplit events ({len(scores.splits)}):")
    for event, stories in list(scores.splits.items())[:limit]:
        n = sum(len(ps) for ps in stories.values())
        print(f"  {event}: {n} matched items in {len(stories)} stories")
        for story, ps in stories.items():
            titles = " | ".join(f"[{p.id}] {_cut(p.title, 40)}" for p in ps)
            print(f"    story {story}: {titles}")
    if limit is not None and len(scores.splits) > limit:
        print(f"  … {len(scores.splits) - limit} more events (--verbose)")


def run(path: Path, rules: Path) -> tuple[Scores, str]:
    """Record the file through the production path in a temporary store; score it."""
    labeled = load_events(path)
    with tempfile.TemporaryDirectory() as tmp, production(rules, Path(tmp) / "events.db") as rt:
        placed = record(labeled, rt)
        reading = ("matched and read as events (Reader.describe)"
                   if getattr(rt.pipeline.reader, "describe", None)
                   else "matched only (no event reading)")
    return score(placed), reading


# ---- lookup cost (--lookup) -------------------------------------------------------------------

T0 = 1_740_787_200  # 2025-03-01T00:00:00Z: the synthetic timeline starts here
SPACING_S = 30  # one item every 30 s on average
EVENT_SPAN_S = 4 * 3600  # an event's reports arrive within 4 hours of its first
REPORT_WEIGHTS = (35, 20, 14, 10, 8, 6, 4, 3)  # reports per event, 1–8 (mean 2.85)
OUTLETS = 60
PROBES = 2000
RECENT_S = 6 * 3600  # a probe that continues an event picks one of the last 6 hours

# (English name, Chinese name, product, its Chinese name, versions): watched entities of the
# shipped rules (rules/llm.yaml), most popular first
ENTITIES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("Baidu", "百度", "ERNIE", "文心", ("4.5", "X1", "5")),
    ("Alibaba", "阿里巴巴", "Qwen", "通义千问", ("2.5", "3", "3.5")),
    ("DeepSeek", "深度求索", "DeepSeek", "DeepSeek", ("V3.1", "V3.2", "R2")),
    ("ByteDance", "字节跳动", "Doubao", "豆包", ("1.5", "1.6", "2.0")),
    ("Tencent", "腾讯", "Hunyuan", "混元", ("T1", "2", "3")),
    ("Moonshot AI", "月之暗面", "Kimi", "Kimi", ("K1.5", "K2", "K2.5")),
    ("Zhipu AI", "智谱", "GLM", "GLM", ("4.5", "4.6", "5")),
    ("Huawei", "华为", "Pangu", "盘古", ("5.0", "5.5", "6.0")),
    ("MiniMax", "稀宇科技", "MiniMax", "MiniMax", ("M1", "M2", "M3")),
    ("iFlytek", "科大讯飞", "Spark", "星火", ("4.0", "X1", "X2")),
    ("Kuaishou", "快手", "Kling", "可灵", ("2.0", "2.1", "2.5")),
    ("SenseTime", "商汤科技", "SenseNova", "日日新", ("5.0", "V6", "V7")),
    ("Xiaomi", "小米", "MiMo", "MiMo", ("7B", "V2", "V3")),
    ("StepFun", "阶跃星辰", "Step", "Step", ("1", "2", "3")),
    ("Baichuan", "百川智能", "Baichuan", "百川", ("3", "4", "5")),
    ("01.AI", "零一万物", "Yi", "Yi", ("1.5", "2", "3")),
    ("Kunlun Tech", "昆仑万维", "Skywork", "天工", ("2.0", "3.0", "4.0")),
    ("Meituan", "美团", "LongCat", "LongCat", ("Flash", "2", "3")),
    ("Ant Group", "蚂蚁集团", "Ling", "百灵", ("1T", "2.0", "2.5")),
    ("JD.com", "京东", "JoyAI", "言犀", ("2", "3", "4")),
    ("NetEase", "网易", "Ziyue", "子曰", ("2", "3", "4")),
    ("ModelBest", "面壁智能", "MiniCPM", "MiniCPM", ("4", "4.5", "V4")),
    ("Shanghai AI Laboratory", "上海人工智能实验室", "InternLM", "书生", ("3", "3.5", "4")),
    ("China Telecom", "中国电信", "TeleChat", "星辰", ("2", "3", "4")),
    ("China Mobile", "中国移动", "Jiutian", "九天", ("2.0", "3.0", "4.0")),
    ("China Unicom", "中国联通", "Yuanjing", "元景", ("2.0", "3.0", "4.0")),
    ("vivo", "vivo", "BlueLM", "蓝心", ("2", "3", "4")),
    ("OPPO", "OPPO", "AndesGPT", "安第斯", ("2", "3", "4")),
    ("Honor", "荣耀", "MagicLM", "魔法大模型", ("2", "3", "4")),
    ("Zhihu", "知乎", "Zhihaitu", "知海图", ("2", "3", "4")),
    ("TAL Education", "好未来", "MathGPT", "九章", ("2", "3", "4")),
    ("Li Auto", "理想汽车", "MindGPT", "理想同学", ("2", "3", "4")),
    ("Meitu", "美图", "MiracleVision", "奇想大模型", ("4", "5", "6")),
    ("Shengshu Technology", "生数科技", "Vidu", "Vidu", ("Q1", "2.0", "Q2")),
    ("Mobvoi", "出门问问", "Sequence Monkey", "序列猴子", ("2", "3", "4")),
    ("CloudWalk Technology", "云从科技", "Congrong", "从容大模型", ("2", "3", "4")),
    ("Unisound", "云知声", "Shanhai", "山海大模型", ("2", "3", "4")),
    ("Inspur Information", "浪潮信息", "Yuan", "源", ("2.0", "3.0", "4.0")),
    ("Kingsoft Office", "金山办公", "WPS AI", "WPS AI", ("2.0", "3.0", "4.0")),
    ("Metaso", "秘塔", "MetaLLM", "秘塔AI搜索", ("2", "3", "4")),
)
# what happened: (weight, numbers it takes, English wordings, Chinese wordings); {E} {Z} the
# entity, {P} {PZ} {v} the product and version, {n} a percentage, {m} an amount
ACTIONS: dict[str, tuple[float, tuple[int, ...], tuple[str, ...], tuple[str, ...]]] = {
    "launch": (0.34, (), ("{E} launches {P} {v} model", "{E} unveils {P} {v} AI model",
                          "{P} {v} is here: {E} releases its new large language model",
                          "{E} rolls out {P} {v} chatbot to all users"),
               ("{Z}发布{PZ}{v}大模型", "{Z}正式推出{PZ}{v}", "{PZ}{v}上线，{Z}称推理能力大幅提升")),
    "open_source": (0.1, (), ("{E} open-sources {P} {v} model weights",
                              "{E} makes {P} {v} open-weight"), ("{Z}开源{PZ}{v}大模型",)),
    "price_cut": (0.1, (10, 20, 30, 50, 80), ("{E} cuts {P} {v} API prices by {n}%",
                                              "{E} slashes {P} {v} model prices by {n}%"),
                  ("{Z}{PZ}{v}大模型降价{n}%",)),
    "funding": (0.1, (5, 10, 30, 60, 100), ("{E} raises {m} million dollars in new funding round",
                                             "AI startup {E} secures {m} million dollars funding"),
                ("{Z}完成{m}00万美元融资，加码大模型",)),
    "share_up": (0.16, (3, 5, 8, 12, 20), ("{E} shares jump {n}% after {P} {v} AI model debut",),
                 ("{Z}股价大涨{n}%，{PZ}{v}大模型受追捧",)),
    "incident": (0.08, (), ("{P} chatbot outage hits {E} users",
                            "{E}'s {P} AI assistant went down for hours"),
                 ("{PZ}大模型宕机，{Z}回应故障原因",)),
    "probe": (0.06, (), ("Regulators probe {E} over {P} chatbot data",),
              ("监管部门约谈{Z}，要求说明{PZ}大模型数据处理",)),
    "lawsuit": (0.06, (), ("{E} sued over {P} AI model training data",),
                ("{Z}{PZ}大模型遭起诉，被指侵权",)),
}
SUMMARY = {"en": "{E} said the {P} model is available to developers on its cloud platform.",
           "zh": "{Z}表示，{PZ}大模型已向开发者开放。"}


@dataclass(frozen=True, slots=True)
class Wording:
    """One report wording of a synthetic happening, read once by the bot's matcher and
    `event_form`; every stored report of it differs from it only in time and link."""

    seed: int  # the happening (entity, action, version, number) it reports
    entity: int  # its entity's popularity rank
    title: str
    summary: str
    lang: str
    hits: tuple[Hit, ...]
    form: EventForm  # at 0: a report sets its own time
    form_tail: str  # its item_events JSON after '{"at": <at>'
    bands: tuple[int, ...]  # title band keys (bot/stories/keys.py), the same for every report
    event_keys: tuple[int, ...]


@dataclass
class World:
    """Synthetic happenings and their wordings, and a timeline of reports (time order)."""

    wordings: list[Wording]
    by_seed: dict[int, list[int]]  # seed → its wordings
    seeds_of: list[list[int]]  # entity rank → its seeds
    timeline: list[tuple[int, int, int]] = field(default_factory=list)  # (at, event, wording)

    def seed_of_new_event(self, rng: random.Random) -> int:
        """A happening for a new event: its entity by Zipf popularity, then any of its seeds."""
        weights = [1 / (rank + 1) for rank in range(len(self.seeds_of))]
        [entity] = rng.choices(range(len(self.seeds_of)), weights=weights)
        return rng.choice(self.seeds_of[entity])


def make_world(rules: Path, entities: int = len(ENTITIES)) -> World:
    """Every wording of every happening of the first `entities` entities, read as the pipeline
    reads a matched item (match_item, then event_form with the rules' product lexicon, as
    the pipeline's Reader does); wordings that match no list are dropped."""
    watchlists = load_watchlists(rules)
    lexicon = build_lexicon(watchlists)
    wordings: list[Wording] = []
    by_seed: dict[int, list[int]] = defaultdict(list)
    seeds_of: list[list[int]] = []
    seed = 0
    for rank, (en, zh, product, product_zh, versions) in enumerate(ENTITIES[:entities]):
        seeds_of.append([])
        for weight, numbers, en_forms, zh_forms in ACTIONS.values():
            uses_version = any("{v}" in w for w in en_forms + zh_forms)
            for version in versions if uses_version else ("",):
                for number in numbers or (0,):
                    values = {"E": en, "Z": zh, "P": product, "PZ": product_zh, "v": version,
                              "n": number, "m": number}
                    for lang, forms in (("en", en_forms), ("zh", zh_forms)):
                        for text in forms:
                            title = text.format(**values)
                            summary = SUMMARY[lang].format(**values)
                            hits = tuple(match_item(title, summary, watchlists))
                            if not any(h.list for h in hits):
                                continue
                            form = event_form(title, summary, lang, hits, 0, lexicon)
                            head = '{"at": 0'
                            text_json = json.dumps(form_to_json(form), ensure_ascii=False)
                            assert text_json.startswith(head)
                            by_seed[seed].append(len(wordings))
                            wordings.append(Wording(
                                seed, rank, title, summary, lang, hits, form,
                                text_json[len(head):], story_keys(title).bands,
                                event_index_keys(form)))
                    if seed in by_seed:
                        # a seed's weight: its action's, shared among the action's seeds
                        seeds_of[rank] += [seed] * max(1, round(weight * 100 / len(versions)))
                    seed += 1
    return World(wordings, dict(by_seed), seeds_of)


def extend_timeline(world: World, items: int, rng: random.Random) -> None:
    """Grow the timeline to at least `items` reports: events start one every
    SPACING_S × (mean reports) seconds on average, each with 1–8 reports within EVENT_SPAN_S;
    reports are sorted by time (an event's first report first)."""
    mean = sum(n * w for n, w in enumerate(REPORT_WEIGHTS, 1)) / sum(REPORT_WEIGHTS)
    start = world.timeline[-1][0] if world.timeline else T0
    event = 1 + max((e for _, e, _ in world.timeline), default=-1)
    new: list[tuple[int, int, int]] = []
    while len(world.timeline) + len(new) < items + len(REPORT_WEIGHTS):
        start += max(1, round(rng.expovariate(1 / (SPACING_S * mean))))
        choices = world.by_seed[world.seed_of_new_event(rng)]
        [n] = rng.choices(range(1, len(REPORT_WEIGHTS) + 1), weights=REPORT_WEIGHTS)
        offsets = [0] + sorted(rng.randrange(1, EVENT_SPAN_S) for _ in range(n - 1))
        new += [(start + off, event, rng.choice(choices)) for off in offsets]
        event += 1
    world.timeline += sorted(new)  # every new report is later than the last stored start


class Loader:
    """Appends timeline reports to a store as record_items would write them for matched
    items placed in their synthetic events: items, stories, item_events and story_keys rows
    (executemany, one transaction per 50,000 items). Item ids are timeline positions + 1; a
    story takes the id of its first item, as intake does."""

    def __init__(self, store: Store, world: World) -> None:
        self.store = store
        self.world = world
        self.loaded = 0
        self.first: dict[int, int] = {}  # event → its story id
        self.titles: dict[int, str] = {}

    def item(self, pos: int) -> Item:
        """The Item of timeline position `pos` (link and feed from its id)."""
        at, _, w = self.world.timeline[pos]
        wording = self.world.wordings[w]
        stamp = datetime.fromtimestamp(at, UTC)
        link = f"https://outlet{pos % OUTLETS}.example/{stamp:%Y/%m/%d}/{pos + 1}"
        return Item(key=f"u:{link}", feed=f"outlet{pos % OUTLETS}", title=wording.title,
                    summary=wording.summary, link=link, published=stamp, lang=wording.lang)

    def load(self, stop: int, chunk: int = 50_000) -> float:
        """Append positions loaded..stop; returns seconds taken."""
        began = time.perf_counter()
        conn = self.store.db.conn
        conn.execute("PRAGMA foreign_keys=OFF")  # consistent by construction (and tested)
        conn.execute("PRAGMA cache_size=-1000000")
        for a in range(self.loaded, stop, chunk):
            with self.store.db.tx():
                self._chunk(conn, a, min(a + chunk, stop))
        conn.execute("PRAGMA foreign_keys=ON")
        self.loaded = stop
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.perf_counter() - began

    def _chunk(self, conn: sqlite3.Connection, a: int, b: int) -> None:
        items: list[tuple[object, ...]] = []
        events: list[tuple[int, int, int, str]] = []
        keys: list[tuple[int, int, int, int]] = []
        new_stories: list[tuple[int, int, str | None, str, str | None, str | None]] = []
        joined: dict[int, tuple[int, str | None]] = {}  # story → (reports joined, last stamp)
        for pos in range(a, b):
            item_id = pos + 1
            at, event, w = self.world.timeline[pos]
            wording = self.world.wordings[w]
            item = self.item(pos)
            stamp = ts(item.published)
            story_id = self.first.setdefault(event, item_id)
            if story_id == item_id:
                new_stories.append((story_id, item_id, stamp, wording.title, stamp, stamp))
            else:
                joined[story_id] = (joined.get(story_id, (0, stamp))[0] + 1, stamp)
            items.append((item_id, item.feed, item.key, item.title, item.summary, item.link,
                          stamp, item.lang, stamp, story_id))
            events.append((item_id, story_id, at, f'{{"at": {at}{wording.form_tail}'))
            index = [exact_index(k) for k in exact_keys(item.link, None)]
            keys += [(key, at, item_id, story_id)
                     for key in dict.fromkeys([*index, *wording.bands, *wording.event_keys])]
        conn.executemany(
            """INSERT INTO items (id, feed, key, title, summary, link, published, lang,
               first_seen, backfill, matched, story_id) VALUES (?,?,?,?,?,?,?,?,?,1,1,?)""",
            items)
        conn.executemany(
            """INSERT INTO stories (id, first_item_id, created, title, at, updated, items)
               VALUES (?,?,?,?,?,?,1)""", new_stories)
        conn.executemany("UPDATE stories SET items = items + ?, updated = ? WHERE id = ?",
                         [(n, last, story_id) for story_id, (n, last) in joined.items()])
        conn.executemany("INSERT INTO item_events (item_id, story_id, at, form) VALUES (?,?,?,?)",
                         events)
        conn.executemany("INSERT INTO story_keys (key, at, item_id, story_id) VALUES (?,?,?,?) "
                         "ON CONFLICT DO NOTHING", keys)


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed pass over the probes (µs)."""

    mean: float
    p99: float
    candidates: float  # mean candidate stories
    query: float  # mean µs in store.events.candidates
    profiles: float  # mean µs in store.events.profiles
    decision: float  # mean µs in choose_event
    rebuilt: float  # mean profiles rebuilt from stored forms (cache misses) per probe
    distinct: int  # distinct candidate stories over all probes


def probes(world: World, loaded: int, rng: random.Random, n: int = PROBES) -> list[EventForm]:
    """New matched items arriving "now" (within 10 minutes after the last stored report): half
    another report of an event of the last RECENT_S, half a report of a new event."""
    end = world.timeline[loaded - 1][0]
    recent: dict[int, int] = {}  # event → a wording of it
    for pos in range(loaded - 1, -1, -1):
        at, event, w = world.timeline[pos]
        if at < end - RECENT_S:
            break
        recent[event] = w
    events = list(recent.values())
    out = []
    for _ in range(n):
        if events and rng.random() < 0.5:
            seed = world.wordings[rng.choice(events)].seed
        else:
            seed = world.seed_of_new_event(rng)
        form = world.wordings[rng.choice(world.by_seed[seed])].form
        out.append(replace(form, at=end + rng.randint(1, 600)))
    return out


def time_pass(store: Store, events: Events, forms: Sequence[EventForm], *,
              warm: bool = False) -> Pass:
    """The decision path of Intake._event_story for each probe, timed in its three parts.

    In order, as items arrive: a probe finds the profiles that earlier probes left in the
    Events cache (at most its 400 stories). `warm`: each probe is run once untimed just
    before, so its candidates' profiles are cached: the cost when the cache holds them."""
    conn = store.db.conn
    totals, cands, query, prof, decide = [], 0, 0.0, 0.0, 0.0
    idf = events.idf(conn)
    rebuilt = 0
    touched: set[int] = set()
    story_forms = events.story_forms

    def counted(*args: object, **kwargs: object) -> list[EventForm]:
        nonlocal rebuilt
        rebuilt += 1
        return story_forms(*args, **kwargs)  # type: ignore[arg-type]

    clock = time.perf_counter
    for form in forms:
        if warm:
            events.profiles(conn, events.candidates(conn, event_index_keys(form), form.at))
        events.story_forms = counted  # type: ignore[method-assign]
        t0 = clock()
        candidates = events.candidates(conn, event_index_keys(form), form.at)
        t1 = clock()
        profiles = events.profiles(conn, candidates) if candidates else {}
        t2 = clock()
        if profiles:  # as the store decides: the item's vector once, no evidence kept
            choose_event(form, profiles, idf, vector=events.vector(conn, form), explain=False)
        t3 = clock()
        events.story_forms = story_forms  # type: ignore[method-assign]
        totals.append((t3 - t0) * 1e6)
        cands += len(candidates)
        touched.update(candidates)
        query, prof, decide = query + t1 - t0, prof + t2 - t1, decide + t3 - t2
    totals.sort()
    n = len(forms)
    return Pass(statistics.fmean(totals), totals[max(0, int(n * 0.99) - 1)], cands / n,
                query * 1e6 / n, prof * 1e6 / n, decide * 1e6 / n, rebuilt / n,
                len(touched))


def rows_read(store: Store, forms: Sequence[EventForm]) -> tuple[float, int, int]:
    """Index rows the candidate query may read per probe: (mean, max) of Σ over its keys of
    min(KEY_ROWS, rows in the window), and the most event keys a probe had."""
    conn = store.db.conn
    counts = []
    for form in forms:
        counts.append(sum(conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM story_keys WHERE key = ? AND at BETWEEN ? AND ?"
            " LIMIT ?)", [key, form.at - WINDOW_S, form.at + WINDOW_S, KEY_ROWS]).fetchone()[0]
            for key in event_index_keys(form)))
    return (statistics.fmean(counts), max(counts),
            max(len(event_index_keys(f)) for f in forms))


def query_plan(store: Store, form: EventForm) -> list[str]:
    """SQLite's plan of the candidate query as Events.candidates runs it (its SQL caught with
    a trace callback, so this shows the production statement, not a copy)."""
    conn = store.db.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        Events(store.db).candidates(conn, event_index_keys(form), form.at)
    finally:
        conn.set_trace_callback(None)
    sql = next(s for s in seen if "story_keys" in s)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


def run_lookup(rules: Path, sizes: Sequence[int], n_probes: int = PROBES) -> None:
    """Build one growing store to each size, then time the probes (see the docstring)."""
    began = time.perf_counter()
    world = make_world(rules)
    print(f"\n## events lookup cost: {len(world.wordings)} wordings of "
          f"{len(world.by_seed)} happenings of {len(ENTITIES)} entities "
          f"(read in {time.perf_counter() - began:.1f} s); {n_probes} probes per size")
    rng = random.Random(11)
    extend_timeline(world, max(sizes), rng)
    print(f"candidate query: at most KEY_ROWS = {KEY_ROWS} index rows per event key, "
          f"MAX_CANDIDATES = {MAX_CANDIDATES} stories\n")
    header = ("| stored items | build s | db MB | pass | mean µs | p99 µs | mean candidate "
              "stories | mean decision µs | query µs | profiles µs | rebuilt / probe |")
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "lookup.db")
        loader = Loader(store, world)
        built = 0.0
        for size in sorted(sizes):
            built += loader.load(size)
            size_mb = os.path.getsize(store.path) / 1e6
            forms = probes(world, size, random.Random(size))
            events = Events(store.db)
            t = time.perf_counter()
            events.idf(store.db.conn)
            idf_ms = (time.perf_counter() - t) * 1e3
            first = time_pass(store, events, forms)
            for label, result in (("first touch", first),
                                  ("warm", time_pass(store, events, forms, warm=True))):
                rows.append(f"| {size:,} | {built:.1f} | {size_mb:.0f} | {label} "
                            f"| {result.mean:.0f} | {result.p99:.0f} | {result.candidates:.2f} "
                            f"| {result.decision:.0f} | {result.query:.0f} "
                            f"| {result.profiles:.0f} | {result.rebuilt:.2f} |")
            mean_rows, max_rows, max_keys = rows_read(store, forms)
            notes.append(f"{size:,}: index rows in the candidates' reach per probe: mean "
                         f"{mean_rows:.0f}, max {max_rows} (bound: {max_keys} keys × "
                         f"{KEY_ROWS} = {max_keys * KEY_ROWS}); document frequencies built in "
                         f"{idf_ms:.0f} ms; {len(loader.first):,} stories, "
                         f"{first.distinct:,} distinct candidate stories over the probes "
                         f"(the Events cache keeps {_CACHE_STORIES})")
            print(f"  built {size:,} items ({built:.1f} s in all)", file=sys.stderr)
        plan = query_plan(store, forms[0])
        store.close()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    print("\n".join(rows))
    print()
    print("\n".join(notes))
    print("candidate query plan (largest store):")
    print("\n".join(f"  {step}" for step in plan))


def main() -> int:
    """Score the events file given (or the shared dev set) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a labeled events file")
    parser.add_argument("--rules", type=Path, default=REPO / "rules")
    parser.add_argument("--verbose", action="store_true", help="every wrong merge and split")
    parser.add_argument("--lookup", action="store_true",
                        help="only the lookup cost at --sizes stored items (synthetic store)")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="stored items for --lookup, comma-separated")
    args = parser.parse_args()
    if args.lookup:
        run_lookup(args.rules, [int(s) for s in args.sizes.split(",")])
        return 0
    if not args.data.is_file():
        print(f"events file not found at {args.data} (the shared eval set lives in "
              f"../shared/eval/ beside the repository; or pass --data FILE)", file=sys.stderr)
        return 2
    scores, reading = run(args.data, args.rules)
    report(args.data.name, scores, reading, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
