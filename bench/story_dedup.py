"""Story clustering: precision/recall on a labeled set, and the cost of one lookup at scale.

    .venv/bin/python bench/story_dedup.py                 # both parts, up to 1M stored items
    .venv/bin/python bench/story_dedup.py --quality       # only (a)
    .venv/bin/python bench/story_dedup.py --sizes 10000,100000

(a) Labeled set. Every distinct item of the 80 corpus feeds (../shared/corpus/feeds) is its own
story; synthetic copies are added as items of other feeds: the same link with utm parameters,
an AMP/mobile link with an outlet suffix, and — on another outlet's link, so that only the
title can join it — reworded titles (clauses swapped, punctuation, a synonym, " - Reuters",
case, 繁體, a wire prefix). Hard negatives are new stories: the same title with another number
or another company, and the same title on a new link five days later. Every item is published
inside one 72-hour window and comes from its own feed, so neither the window nor the
same-feed rule makes the task easier. Pairs are scored per threshold (the threshold table),
then all items go through Store.record_items in order and the resulting stories are scored
pairwise (a pair of items is a true positive when both the labels and the stories agree).

(b) Lookup cost. Synthetic items (titles drawn from the corpus vocabulary by frequency, one
every 30 s, i.e. ~2,900 a day) are bulk-loaded into a real SQLite store, then store.stories.find
is timed for fresh items (new titles) and for near-duplicates of recent items, at each size.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import opencc  # noqa: E402
from rapidfuzz import fuzz  # noqa: E402

from bot.errors import ParseError  # noqa: E402
from bot.ingest.parse import parse_feed  # noqa: E402
from bot.match.normalize import fold  # noqa: E402
from bot.models import Feed, Item  # noqa: E402
from bot.store import NewItem, Store  # noqa: E402
from bot.store.db import ts  # noqa: E402
from bot.stories import keys as stories  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
T0 = datetime(2025, 3, 1, tzinfo=UTC)

SYNONYMS = {
    "unveils": "launches", "launches": "rolls out", "launch": "release", "says": "said",
    "new": "latest", "big": "major", "buys": "acquires", "wins": "secures", "plans": "aims",
    "calls": "urges", "first": "debut", "shows": "reveals", "gets": "receives", "top": "leading",
    "attack": "assault", "kills": "leaves dead", "report": "study", "help": "aid",
    "发布": "推出", "公司": "集团", "宣布": "表示", "推出": "上线", "最新": "全新",
}
OUTLETS = [" - Reuters", " | TechCrunch", " - South China Morning Post", " — Bloomberg",
           " - The Verge"]
CJK_OUTLETS = ["_新浪科技", "｜36氪", " - 澎湃新闻", "_网易科技"]
PREFIXES = ["Exclusive: ", "UPDATE 2-", "Breaking: "]
COMPANIES = ["Baidu", "Alibaba", "Tencent", "ByteDance", "Huawei", "Xiaomi", "Zhipu", "Moonshot",
             "Apple", "Google", "Microsoft", "Amazon", "Samsung", "Intel", "Nvidia"]
CJK_COMPANIES = ["百度", "阿里巴巴", "腾讯", "字节跳动", "华为", "小米", "智谱"]


# ---- (a) the labeled set ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One item of the labeled set; `story` is the true label, `kind` how it was made."""

    story: int
    feed: str
    title: str
    link: str
    guid: str | None
    at: datetime
    kind: str


def corpus_items(corpus: Path = CORPUS) -> list[Item]:
    """Every item of the corpus feeds whose title is long enough to be a headline."""
    items: list[Item] = []
    seen: set[str] = set()
    for path in sorted(corpus.glob("*.xml")):
        feed = Feed(name=path.stem, url=f"https://corpus.test/{path.name}")
        try:
            parsed = parse_feed(path.read_bytes(), feed=feed)
        except ParseError:
            continue
        for item in parsed.items:
            folded = fold(item.title).strip()
            short = len(stories.title_form(item.title).tokens) < 3
            if item.link is None or folded in seen or short:
                continue  # a repeated title (classified ads, calendars) is ambiguous as a label
            seen.add(folded)
            items.append(item)
    return items


def _with_query(link: str, query: str) -> str:
    return f"{link}{'&' if '?' in link else '?'}{query}"


def _amp_link(link: str, rng: random.Random) -> str:
    scheme, _, rest = link.partition("://")
    host, _, path = rest.partition("/")
    host = host.removeprefix("www.")
    if host.count(".") >= 1:
        host = f"{rng.choice(['amp', 'm'])}.{host}"
    return f"https://{host}/{path.rstrip('/')}/amp"


def _swap_clauses(title: str, rng: random.Random) -> str:
    for sep in (": ", ", ", " - "):
        if sep in title:
            left, _, right = title.partition(sep)
            return f"{right}{sep}{left}"
    words = title.split()
    if len(words) < 2:
        return title
    k = rng.randint(1, min(3, len(words) - 1))
    return " ".join(words[k:] + words[:k])


def _synonym(title: str, rng: random.Random) -> str:
    for word, other in rng.sample(list(SYNONYMS.items()), len(SYNONYMS)):
        pattern = re.compile(rf"\b{word}\b" if word.isascii() else word, re.IGNORECASE)
        if pattern.search(title):
            return pattern.sub(other, title, count=1)
    words = title.split()  # nothing in the table: a word dropped, as an editor would
    if len(words) > 5:
        del words[rng.randrange(1, len(words))]
    return " ".join(words)


def _punctuation(title: str, rng: random.Random) -> str:
    title = title.replace(",", " -").replace("'", "’").replace('"', "“")
    return title + rng.choice(["", ".", "!", " …"])


_S2T = opencc.OpenCC("s2t")


def latin_rewrites(title: str, rng: random.Random) -> str:
    """One or two edits (swap clauses, synonym, punctuation), then maybe case and decorations.

    Decorations come last, as an outlet adds them to its own rewritten headline.
    """
    edits: list[Callable[[str], str]] = [
        lambda t: _swap_clauses(t, rng),
        lambda t: _synonym(t, rng),
        lambda t: _punctuation(t, rng),
    ]
    for op in rng.sample(edits, rng.randint(1, 2)):
        title = op(title)
    if rng.random() < 0.3:
        title = title.upper() if rng.random() < 0.3 else title.title()
    if rng.random() < 0.3:
        title = title + rng.choice(OUTLETS)
    if rng.random() < 0.2:
        title = rng.choice(PREFIXES) + title
    return title


def cjk_rewrites(title: str, rng: random.Random) -> str:
    """Two of: outlet suffix, 繁體, synonym, full-width punctuation, a word inserted."""
    ops: list[Callable[[str], str]] = [
        lambda t: t + rng.choice(CJK_OUTLETS),
        lambda t: _S2T.convert(t),
        lambda t: _synonym(t, rng),
        lambda t: t.replace(",", "，").replace(":", "：").replace(" ", "，", 1),
        lambda t: t[:2] + rng.choice(["正式", "今日", "宣布"]) + t[2:],
    ]
    for op in rng.sample(ops, 2):
        title = op(title)
    return title


def _other_number(title: str, rng: random.Random) -> str | None:
    numbers = list(re.finditer(r"\d+(?:\.\d+)?", title))
    if not numbers:
        return None
    m = rng.choice(numbers)
    value = m.group()
    if "." in value:
        whole, frac = value.split(".")
        other = f"{whole}.{(int(frac) + 5) % 10}"
    else:
        other = str(int(value) + rng.randint(1, 9))
    return title[: m.start()] + other + title[m.end():]


def _other_company(title: str, rng: random.Random) -> tuple[str, str] | None:
    """Swap a company or name for another company: ("neg-company", title) when the swapped
    word is a known company or a name in a sentence-case title, ("neg-word", title) when it is
    just a capitalized word of a Title Case headline (where case cannot tell names apart).
    """
    for names in (COMPANIES, CJK_COMPANIES):
        for name in names:
            if name in title:
                other = rng.choice([n for n in names if n != name])
                return "neg-company", title.replace(name, other, 1)
    words = title.split()
    caps = [i for i, w in enumerate(words) if i and w[:1].isupper() and w.isalpha()]
    if not caps:
        return None
    words[rng.choice(caps)] = rng.choice(COMPANIES)
    title_case = len(caps) * 2 > len(words) - 1
    return ("neg-word" if title_case else "neg-company"), " ".join(words)


def labeled_set(items: Sequence[Item], seed: int = 7) -> list[Sample]:
    """Base items, their rewrites (same story) and hard negatives (new stories), in time order."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    story = itertools.count()
    outlet = itertools.count()

    def add(label: int, title: str, link: str, at: datetime, kind: str,
            guid: str | None = None) -> None:
        samples.append(Sample(label, f"feed{len(samples)}", title, link, guid, at, kind))

    for item in items:
        assert item.link is not None
        label = next(story)
        at = T0 + timedelta(minutes=rng.randrange(0, 60 * 60))
        cjk = stories.title_form(item.title).cjk
        add(label, item.title, item.link, at, "base", item.guid)
        later = lambda: at + timedelta(minutes=rng.randrange(1, 12 * 60))  # noqa: E731
        if rng.random() < 0.3:
            add(label, item.title, _with_query(item.link, "utm_source=twitter&utm_medium=social"),
                later(), "utm")
        if rng.random() < 0.3:
            suffix = rng.choice(CJK_OUTLETS if cjk else OUTLETS)
            add(label, item.title + suffix, _amp_link(item.link, rng), later(), "amp")
        for _ in range(rng.choice([1, 1, 2])):
            title = cjk_rewrites(item.title, rng) if cjk else latin_rewrites(item.title, rng)
            add(label, title, f"https://outlet{next(outlet)}.example/news/{label}",
                later(), "reword-cjk" if cjk else "reword")
        if rng.random() < 0.5 and (other := _other_number(item.title, rng)):
            add(next(story), other, f"https://outlet{next(outlet)}.example/n/{label}",
                later(), "neg-number")
        if rng.random() < 0.3 and (swapped := _other_company(item.title, rng)):
            add(next(story), swapped[1], f"https://outlet{next(outlet)}.example/c/{label}",
                later(), swapped[0])
        if rng.random() < 0.05:
            add(next(story), item.title, f"https://outlet{next(outlet)}.example/w/{label}",
                at + timedelta(days=5), "neg-later")
    samples.sort(key=lambda s: s.at)
    return samples


def _keys(s: Sample) -> stories.StoryKeys:
    return stories.story_keys(s.title, link=s.link, guid=s.guid, published=s.at, seen=s.at)


Scorer = Callable[[stories.TitleForm, stories.TitleForm], float]

SCORERS: dict[str, Scorer] = {
    "token_sort_ratio": lambda a, b: fuzz.token_sort_ratio(a.text, b.text),
    "token_set_ratio": lambda a, b: fuzz.token_set_ratio(a.text, b.text),
    "ratio": lambda a, b: fuzz.ratio(a.text, b.text),
    "sort, or subset (>=4 tokens)": lambda a, b: max(
        fuzz.token_sort_ratio(a.text, b.text),
        100.0 if min(len(a.tokens), len(b.tokens)) >= 4
        and (a.tokens <= b.tokens or b.tokens <= a.tokens) else 0.0),
    "token jaccard": lambda a, b: 100 * len(a.tokens & b.tokens) / len(a.tokens | b.tokens),
    "bigram dice": lambda a, b: stories._dice(a.tokens, b.tokens),
}


@dataclass(frozen=True, slots=True)
class Pair:
    """A title-only pair (no shared URL/GUID key) as the title rule sees it."""

    same: bool
    cjk: bool
    banded: bool  # shares an LSH band: would be a candidate at all
    eligible: bool  # window and numbers agree, enough tokens
    a: stories.TitleForm
    b: stories.TitleForm


def title_pairs(samples: Sequence[Sample]) -> list[Pair]:
    """Every same-story pair, and every different-story pair that shares a band."""
    keys = [_keys(s) for s in samples]
    by_story: dict[int, list[int]] = defaultdict(list)
    by_band: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_story[s.story].append(i)
        for band in keys[i].bands:
            by_band[band].append(i)
    wanted: set[tuple[int, int]] = set()
    for members in itertools.chain(by_story.values(), by_band.values()):
        wanted.update(itertools.combinations(sorted(members), 2))
    pairs = []
    for i, j in sorted(wanted):
        a, b = keys[i], keys[j]
        if set(a.exact) & set(b.exact):
            continue  # decided by the URL/GUID, not by the title
        eligible = (stories.within_window(a.at, b.at) and stories.numbers_agree(a.form, b.form)
                    and stories.names_agree(a.form, b.form)
                    and len(a.form.tokens) >= 2 and len(b.form.tokens) >= 2)
        pairs.append(Pair(samples[i].story == samples[j].story, a.form.cjk or b.form.cjk,
                          bool(set(a.bands) & set(b.bands)), eligible, a.form, b.form))
    return pairs


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def threshold_table(pairs: Sequence[Pair], scorer: Scorer, thresholds: Sequence[float]
                    ) -> list[tuple[float, int, int, int, float, float, float]]:
    """(threshold, tp, fp, fn, P, R, F1) for the title rule with this scorer."""
    scored = [(p.same, scorer(p.a, p.b)) for p in pairs if p.banded and p.eligible]
    positives = sum(p.same for p in pairs)
    rows = []
    for t in thresholds:
        tp = sum(1 for same, s in scored if same and s >= t)
        fp = sum(1 for same, s in scored if not same and s >= t)
        rows.append((t, tp, fp, positives - tp, *prf(tp, fp, positives - tp)))
    return rows


def cluster_scores(samples: Sequence[Sample], db: Path
                   ) -> tuple[dict[str, float], Counter[str], Counter[str]]:
    """Record every sample (Store.record_items); pairwise P/R/F1 and per-kind errors."""
    store = Store(db)
    predicted: list[int] = []
    for n, s in enumerate(samples):
        item = Item(key=f"u:{s.link}", feed=s.feed, title=s.title, summary="", link=s.link,
                    published=s.at, lang=None, guid=s.guid)
        # the production path: one item recorded the way a poll records it
        store.intake.record_items(Feed(name=s.feed, url=f"https://{s.feed}.test/rss"),
                           [NewItem(item)], s.at, backfill=True)
        [row] = store.db.rows("SELECT story_id FROM items WHERE feed = ? AND key = ?",
                            [s.feed, item.key])
        predicted.append(row["story_id"])
    store.close()
    pair_counts = Counter()
    joint = Counter(zip((s.story for s in samples), predicted, strict=True))
    true_sizes = Counter(s.story for s in samples)
    pred_sizes = Counter(predicted)
    c2 = lambda n: n * (n - 1) // 2  # noqa: E731
    tp = sum(c2(n) for n in joint.values())
    fp = sum(c2(n) for n in pred_sizes.values()) - tp
    fn = sum(c2(n) for n in true_sizes.values()) - tp
    p, r, f = prf(tp, fp, fn)
    # per kind: a copy joined its base's story (recall) / a negative joined another (error)
    base_story = {s.story: predicted[i] for i, s in enumerate(samples) if s.kind == "base"}
    joined, total = Counter(), Counter()
    for i, s in enumerate(samples):
        if s.kind == "base":
            continue
        total[s.kind] += 1
        if s.kind.startswith("neg"):
            joined[s.kind] += pred_sizes[predicted[i]] > 1
        else:
            joined[s.kind] += predicted[i] == base_story[s.story]
    pair_counts.update(tp=tp, fp=fp, fn=fn)
    return {"P": p, "R": r, "F1": f, **pair_counts}, joined, total


def run_quality(corpus: Path) -> None:
    """Part (a): threshold tables, LSH recall, clustering P/R/F1."""
    items = corpus_items(corpus)
    samples = labeled_set(items)
    kinds = Counter(s.kind for s in samples)
    print(f"## (a) labeled set: {len(items)} corpus items -> {len(samples)} items, "
          f"{len({s.story for s in samples})} stories; {dict(sorted(kinds.items()))}")
    started = time.perf_counter()
    pairs = title_pairs(samples)
    for script, cjk, scorer_names, grid in (
        ("Latin", False, ("token_sort_ratio", "token_set_ratio",
                          "sort, or subset (>=4 tokens)", "ratio", "token jaccard"),
         (60, 70, 80, 84, 88, 90, 92, 94, 95, 96, 97, 98, 100)),
        ("CJK", True, ("bigram dice", "token jaccard", "ratio"), range(40, 101, 5)),
    ):
        subset = [p for p in pairs if p.cjk == cjk]
        pos = [p for p in subset if p.same]
        print(f"\n### {script} title-only pairs: {len(pos)} same-story, "
              f"{len(subset) - len(pos)} different-story pairs sharing a band; "
              f"LSH candidate recall {sum(p.banded for p in pos) / max(1, len(pos)):.3f} "
              f"(eligible: window, numbers: {sum(p.banded and p.eligible for p in pos)})")
        for name in scorer_names:
            rows = threshold_table(subset, SCORERS[name], grid)
            best = max(rows, key=lambda r: (r[6], r[0]))
            print(f"{name:>28}: best F1 {best[6]:.3f} at {best[0]} "
                  f"(P {best[4]:.3f} R {best[5]:.3f})")
        current = stories.CJK_THRESHOLD if cjk else stories.LATIN_THRESHOLD
        name = "bigram dice" if cjk else "token_set_ratio"
        print(f"\n{name} threshold table (chosen: {current}):")
        print("thresh     tp     fp     fn      P      R     F1")
        for t, tp, fp, fn, p, r, f in threshold_table(subset, SCORERS[name], grid):
            mark = " <-" if t == current else ""
            print(f"{t:>6} {tp:>6} {fp:>6} {fn:>6} {p:6.3f} {r:6.3f} {f:6.3f}{mark}")
    with tempfile.TemporaryDirectory() as tmp:
        scores, joined, total = cluster_scores(samples, Path(tmp) / "quality.db")
    print(f"\n### clustering through Store.record_items (pairwise over {len(samples)} items)")
    print(f"P {scores['P']:.4f}  R {scores['R']:.4f}  F1 {scores['F1']:.4f}  "
          f"(tp {scores['tp']}, fp {scores['fp']}, fn {scores['fn']})")
    for kind in sorted(total):
        verb = "wrongly joined a story" if kind.startswith("neg") else "joined their base"
        print(f"  {kind:>12}: {joined[kind]:>5} / {total[kind]:<5} {verb}")
    print(f"(a) took {time.perf_counter() - started:.1f} s")


# ---- (b) lookup cost ---------------------------------------------------------------------


def vocabulary(items: Sequence[Item]) -> tuple[list[str], list[int], str]:
    """Latin words of the corpus titles with cumulative counts, and the CJK text in order."""
    counts: Counter[str] = Counter()
    cjk: list[str] = []
    for item in items:
        form = stories.title_form(item.title)
        if form.cjk:
            cjk.append("".join(stories._CJK_RUN.findall(item.title)))
        else:
            counts.update(w for w in fold(item.title).split() if w.isalpha())
    words, weights = zip(*counts.most_common(), strict=True)
    return list(words), list(itertools.accumulate(weights)), "".join(cjk)


_VOCAB: tuple[list[str], list[int], str] | None = None


def _synthetic_keys(args: tuple[int, int, int]) -> list[tuple]:
    """Rows for items start..stop: (id, title, link, at, keys). Runs in a worker process."""
    start, stop, seed = args
    assert _VOCAB is not None
    words, cum_weights, cjk = _VOCAB
    rng = random.Random(seed * 1_000_003 + start)
    out = []
    for i in range(start, stop):
        if i % 10 == 9:  # one in ten Chinese: a random stretch of real Chinese headlines
            at_char = rng.randrange(0, len(cjk) - 20)
            title = cjk[at_char : at_char + rng.randint(10, 20)]
        else:
            picked = rng.choices(words, cum_weights=cum_weights, k=rng.randint(5, 12))
            title = " ".join(picked).capitalize()
        at = T0 + timedelta(seconds=30 * i)
        link = f"https://site{i % 997}.example/{at:%Y/%m/%d}/story-{i}"
        keys = stories.story_keys(title, link=link, seen=at)
        out.append((i + 1, title, link, ts(at), keys.index))
    return out


def _init_worker(vocab: tuple[list[str], list[int], str]) -> None:
    global _VOCAB
    _VOCAB = vocab


def bulk_load(store: Store, start: int, stop: int, vocab: tuple, seed: int = 1
              ) -> tuple[float, float]:
    """Append synthetic items start..stop with their stories and keys.

    Returns (seconds in all, seconds spent in SQLite): computing the keys runs in worker
    processes and is the larger part.
    """
    began = time.perf_counter()
    in_sqlite = 0.0
    chunks = [(a, min(a + 5000, stop), seed) for a in range(start, stop, 5000)]
    conn = store.db.conn
    # rows are consistent by construction; FK checks would look up every parent row
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    with Pool(os.cpu_count() or 1, initializer=_init_worker, initargs=(vocab,)) as pool:
        with store.db.tx():
            for rows in pool.imap(_synthetic_keys, chunks):
                t = time.perf_counter()
                conn.executemany(
                    """INSERT INTO items (id, feed, key, title, summary, link, first_seen,
                       published, story_id) VALUES (?,?,?,?,'',?,?,?,?)""",
                    [(i, f"feed{i % 80}", f"u:{link}", title, link, at, at, i)
                     for i, title, link, at, _ in rows])
                conn.executemany(
                    """INSERT INTO stories (id, first_item_id, created, title, at, updated)
                       VALUES (?,?,?,?,?,?)""",
                    [(i, i, at, title, at, at) for i, title, _, at, _ in rows])
                conn.executemany(
                    "INSERT INTO story_keys (key, at, item_id, story_id) VALUES (?,?,?,?)",
                    [(key, int(datetime.fromisoformat(at).timestamp()), i, i)
                     for i, _, _, at, keys in rows for key in keys])
                in_sqlite += time.perf_counter() - t
            t = time.perf_counter()
        in_sqlite += time.perf_counter() - t  # the commit
    conn.execute("PRAGMA foreign_keys=ON")
    return time.perf_counter() - began, in_sqlite


def time_lookups(store: Store, probes: Sequence[stories.StoryKeys], now: datetime,
                 expect: Sequence[int] | None = None) -> tuple[float, float, float, float | None]:
    """Mean and p99 µs of store.stories.find over the probes, mean candidates returned, and
    (given the item each probe copies) the share of probes whose item was a candidate."""
    times: list[float] = []
    found = hit = 0
    for n, keys in enumerate(probes):
        t = time.perf_counter()
        candidates = store.stories.find(keys, now)
        times.append((time.perf_counter() - t) * 1e6)
        found += len(candidates)
        if expect is not None:
            hit += any(c.item_id == expect[n] for c in candidates)
    times.sort()
    recall = None if expect is None else hit / len(probes)
    return (statistics.fmean(times), times[int(len(times) * 0.99) - 1], found / len(probes),
            recall)


def run_lookup(corpus: Path, sizes: Sequence[int], probes: int = 2000) -> None:
    """Part (b): lookup cost at each size, on one growing store."""
    vocab = vocabulary(corpus_items(corpus))
    _init_worker(vocab)
    print(f"\n## (b) lookup cost: store.stories.find, {probes} probes per row "
          f"(one synthetic item every 30 s; 10% Chinese titles)")
    print(f"{'stored':>9} {'build s':>8} {'sqlite s':>8} {'db MB':>7} {'probe':>10} "
          f"{'mean µs':>8} {'p99 µs':>8} {'cands':>6} {'found':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "lookup.db")
        loaded = 0
        rng = random.Random(3)
        for size in sorted(sizes):
            built, in_sqlite = bulk_load(store, loaded, size, vocab)
            loaded = size
            end = T0 + timedelta(seconds=30 * size)
            fresh = [stories.story_keys(row[1], link=row[2], seen=end)
                     for row in _synthetic_keys((10**9, 10**9 + probes, size))]
            recent = store.db.rows("SELECT id, title, link FROM items ORDER BY id DESC LIMIT ?",
                                 [probes])
            near = []
            for r in recent:  # another outlet's copy: new link, one word dropped
                words = r["title"].split()
                if len(words) > 4:
                    del words[rng.randrange(1, len(words))]
                near.append(stories.story_keys(
                    " ".join(words), link=f"https://x.example/{rng.random()}", seen=end))
            store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size_mb = os.path.getsize(store.path) / 1e6
            # "found": the share of near-copies whose original was a candidate (what the
            # BAND_ROWS cap on a band's rows can cost when common words make bands crowded)
            copied = [r["id"] for r in recent]
            for label, keys, expect in (("fresh", fresh, None), ("near-dup", near, copied)):
                time_lookups(store, keys[:200], end)  # warm the page cache
                mean, p99, cands, recall = time_lookups(store, keys, end, expect)
                print(f"{size:>9,} {built:>8.1f} {in_sqlite:>8.1f} {size_mb:>7.0f} {label:>10} "
                      f"{mean:>8.0f} {p99:>8.0f} {cands:>6.2f} "
                      f"{'' if recall is None else f'{recall:.3f}':>6}")
        store.close()


def main() -> int:
    """Run the parts asked for and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--quality", action="store_true", help="only part (a)")
    parser.add_argument("--lookup", action="store_true", help="only part (b)")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    if not args.lookup:
        run_quality(args.corpus)
    if not args.quality:
        run_lookup(args.corpus, [int(s) for s in args.sizes.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
