"""Event clustering on a labeled events file, through the production path: are the items that
report one happening one story, and the others not?

    .venv/bin/python bench/events.py                                   # ../shared/eval/events_dev.jsonl
    .venv/bin/python bench/events.py --data tests/data/events_check.jsonl
    .venv/bin/python bench/events.py --verbose                         # every wrong merge and split

The file (../shared/eval/EVENTS.md: id, event, lang, outlet, title, summary, link, published)
is recorded the way a poll records it: a fresh temporary store opened by the bot's own
`Runtime` (empty feeds, the shipped rules/), items in `published` order, one feed per outlet,
each item matched and prepared by the pipeline's own step (`Pipeline.matched_items`: hits, and
whatever else the pipeline hands the store, such as an event reading), then recorded alone with
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
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.config import FeedsConfig
from bot.match.rules import load_watchlists
from bot.models import Feed, Item, ParsedFeed
from bot.run.configuration import Config
from bot.run.runtime import Runtime
from bot.settings import Settings
from bot.store import NewItem, Store
from bot.stories.identity import item_key

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
    build that does that) by the pipeline's own step, so the bench follows it."""
    [new] = runtime.pipeline.matched_items(ParsedFeed(items=[item]), {})
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
        reading = ("matched and read as events (Runtime.describe)"
                   if getattr(rt.pipeline, "describe", None) else "matched only (no event reading)")
    return score(placed), reading


def main() -> int:
    """Score the events file given (or the shared dev set) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a labeled events file")
    parser.add_argument("--rules", type=Path, default=REPO / "rules")
    parser.add_argument("--verbose", action="store_true", help="every wrong merge and split")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"events file not found at {args.data} (the shared eval set lives in "
              f"../shared/eval/ beside the repository; or pass --data FILE)", file=sys.stderr)
        return 2
    scores, reading = run(args.data, args.rules)
    report(args.data.name, scores, reading, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
