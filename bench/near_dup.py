"""Near-identical titles: how often is a near-copy's original NOT among its story candidates?

    .venv/bin/python bench/near_dup.py                 # 2,000 pairs per script
    .venv/bin/python bench/near_dup.py --pairs 20000 --seed 3

The rule: near-identical titles (CJK character-bigram Dice ≥ 80, Latin token_set_ratio ≥ 96,
numbers agreeing; bot.stories.keys.title_similarity / numbers_agree) published within the
window must always be candidates of each other, whatever decides afterwards. Measured here
through the store: the titles of ../shared/eval/events_dev.jsonl and dev.jsonl are stored as
originals with store.intake.record_items (one feed each, unmatched, an hour apart); synthetic
copies are made by the small edits outlets make (CJK: insert 正式/今日/重磅…, change or drop
punctuation, an outlet suffix such as "丨IT之家", a synonym, a few characters cut, quotes;
Latin: " - Reuters"-style suffixes, wire prefixes, quotes, punctuation, case, a word swapped
or added, the last characters cut). A pair is kept only when it is near-identical by the rule
(distinct pairs, seeded RNG: deterministic). Each copy, dated 1–47 h after its original,
asks store.stories.find(story_keys(copy, published=t), now=t); a miss is a copy whose original
is not among the candidates. Printed per script: pairs tested, misses, miss rate, and the
rate among the harder pairs (similarity below 90 / 98).

Target: miss rate ≤ 0.1 % for each script.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.models import Feed, Item
from bot.store import NewItem, Store
from bot.stories.keys import fold_title, numbers_agree, story_keys, title_similarity

EVAL = REPO.parent / "shared" / "eval"
FILES = (EVAL / "events_dev.jsonl", EVAL / "dev.jsonl")
CJK_MIN, LATIN_MIN = 80.0, 96.0  # the near-identical rule
TARGET = 0.001
T0 = datetime(2025, 3, 1, tzinfo=UTC)

CJK_SUFFIXES = ["丨IT之家", "｜IT之家", "_新浪科技", " - 36氪", " | 界面新闻", "丨量子位",
                "_凤凰网科技", " - 第一财经"]
CJK_INSERTS = ["正式", "今日", "重磅", "官宣", "刚刚", "突发"]
CJK_SYNONYMS = [("发布", "推出"), ("推出", "发布"), ("上线", "发布"), ("宣布", "称"),
                ("大模型", "模型"), ("首个", "首款"), ("超越", "超过"), ("公司", "集团")]
CJK_PUNCT = [("，", " "), ("：", "丨"), ("：", " "), ("，", "、"), ("“", ""), ("”", ""),
             ("！", ""), ("？", ""), (",", "，"), (":", "：")]
LATIN_SUFFIXES = [" - Reuters", " | TechCrunch", " - South China Morning Post", " — Bloomberg",
                  " | Pandaily", " - The Verge", " - CNBC"]
LATIN_PREFIXES = ["Exclusive: ", "UPDATE 2-", "Breaking: ", "Analysis: "]
LATIN_SYNONYMS = [("unveils", "launches"), ("launches", "rolls out"), ("says", "said"),
                  ("new", "latest"), ("buys", "acquires"), ("plans", "aims"),
                  ("releases", "unveils"), ("model", "models"), ("AI", "A.I.")]
LATIN_INSERTS = ["new", "officially", "now", "reportedly"]


@dataclass(frozen=True, slots=True)
class Pair:
    """An original title and a near-identical copy; `similarity` by title_similarity."""

    original: str
    copy: str
    similarity: float


@dataclass(slots=True)
class Result:
    """One script's measurement: pairs tested, the missed ones, and the harder share."""

    tested: int = 0
    missed: list[Pair] = field(default_factory=list)
    hard: int = 0  # pairs below HARD similarity
    hard_missed: int = 0

    @property
    def rate(self) -> float:
        return len(self.missed) / self.tested if self.tested else 0.0


HARD = {True: 90.0, False: 98.0}  # per script (cjk?): the lower part of the near-identical band


def cjk_edit(title: str, rng: random.Random) -> str:
    """One to three small edits an outlet makes to a Chinese headline."""
    t = title
    for _ in range(rng.choice((1, 2, 3))):
        k = rng.randrange(6)
        if k == 0:
            spots = [m.start() for m in re.finditer(r"[\u4e00-\u9fff]", t)] or [0]
            pos = rng.choice(spots)
            t = t[:pos] + rng.choice(CJK_INSERTS) + t[pos:]
        elif k == 1:
            options = [(a, b) for a, b in CJK_PUNCT if a in t]
            if options:
                a, b = rng.choice(options)
                t = t.replace(a, b, 1)
            else:
                t += "！"
        elif k == 2:
            t += rng.choice(CJK_SUFFIXES)
        elif k == 3:
            options = [(a, b) for a, b in CJK_SYNONYMS if a in t]
            if options:
                a, b = rng.choice(options)
                t = t.replace(a, b, 1)
            else:
                t = f"【{t}】"
        elif k == 4 and len(t) > 12:
            t = t.rstrip("。！ ")[: -rng.randint(1, 3)]  # a title cut short
        else:
            t = f"“{t}”" if "“" not in t else t.replace("“", "「").replace("”", "」")
    return t


def latin_edit(title: str, rng: random.Random) -> str:
    """One to three small edits an outlet makes to an English headline."""
    t = title
    for _ in range(rng.choice((1, 2, 3))):
        k = rng.randrange(8)
        if k == 0:
            t += rng.choice(LATIN_SUFFIXES)
        elif k == 1:
            t = rng.choice(LATIN_PREFIXES) + t
        elif k == 2:
            t = f"“{t}”" if rng.random() < 0.5 else f"'{t}'"
        elif k == 3:
            t = t.replace(",", " -").replace("'", "’").replace(":", " -") + rng.choice(
                ["", ".", "!", " …"])
        elif k == 4:
            t = t.title() if rng.random() < 0.7 else t.upper()
        elif k == 5:
            options = [(a, b) for a, b in LATIN_SYNONYMS if re.search(rf"\b{re.escape(a)}\b", t)]
            if options:
                a, b = rng.choice(options)
                t = re.sub(rf"\b{re.escape(a)}\b", b, t, count=1)
        elif k == 6:
            words = t.split()
            words.insert(rng.randrange(1, max(2, len(words))), rng.choice(LATIN_INSERTS))
            t = " ".join(words)
        elif len(t) > 30:
            t = t[: -rng.randint(1, 4)].rstrip()  # a title cut short
    return t


def near_identical(a: str, b: str) -> float | None:
    """The pair's similarity when it is near-identical by the rule (numbers agree), else None."""
    fa, fb = fold_title(a), fold_title(b)
    if not numbers_agree(fa, fb) or len(fa.tokens) < 2 or len(fb.tokens) < 2:
        return None
    cjk = fa.cjk or fb.cjk
    similarity = title_similarity(fa, fb)
    return similarity if similarity >= (CJK_MIN if cjk else LATIN_MIN) else None


def make_pairs(titles: Sequence[str], n: int, edit: Callable[[str, random.Random], str],
               rng: random.Random) -> list[Pair]:
    """Up to n distinct near-identical (original, copy) pairs, a copy differing from its
    original; gives up after 100 tries per pair wanted."""
    pairs: dict[tuple[str, str], Pair] = {}
    tries = 0
    while len(pairs) < n and tries < 100 * n and titles:
        tries += 1
        original = rng.choice(titles)
        copy = edit(original, rng)
        if copy == original or (original, copy) in pairs:
            continue
        similarity = near_identical(original, copy)
        if similarity is not None:
            pairs[(original, copy)] = Pair(original, copy, similarity)
    return list(pairs.values())


def load_titles(files: Sequence[Path] = FILES) -> tuple[list[str], list[str]]:
    """Distinct titles of the files: (CJK titles, Latin titles), each in file order."""
    cjk: dict[str, None] = {}
    latin: dict[str, None] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                title = json.loads(line)["title"]
                (cjk if fold_title(title).cjk else latin)[title] = None
    return list(cjk), list(latin)


def template_variant(title: str, rng: random.Random) -> str:
    """A title of the same template that is not near-identical: about a third of its words
    (CJK: of its characters) replaced ("Baidu launches agent 42" → "Baidu opens agent 17")."""
    if fold_title(title).cjk:
        chars = list(title)
        for i in rng.sample(range(len(chars)), max(2, len(chars) // 3)):
            chars[i] = rng.choice("市场模型云芯片发布用户增长数据政策报告开源智能体创业融资平台")
        return "".join(chars)
    words = title.split()
    for i in rng.sample(range(len(words)), max(1, len(words) // 3)):
        words[i] = rng.choice(("market", "cloud", "chip", "users", "growth", "policy", "agent",
                               "report", "funding", "robot", "search", "price", "update"))
    return " ".join(words)


def measure(pairs: Sequence[Pair], db: Path, noise: int = 0) -> Result:
    """Store every original (record_items, a feed each, an hour apart) and, with `noise`, that
    many same-template titles after it (the rows a busy band key keeps are the most recent:
    template-heavy feeds push an original out of them); then ask the store for each copy's
    candidates, 1–47 h after its original. Deterministic."""
    store = Store(db)
    rng = random.Random(5)
    try:
        originals = list(dict.fromkeys(p.original for p in pairs))
        ids: dict[str, int] = {}
        at: dict[str, datetime] = {}
        for n, title in enumerate(originals):
            when = T0 + timedelta(hours=n)
            feed = Feed(name=f"orig{n}", url=f"https://orig{n}.test/rss")
            link = f"https://orig{n}.example/news/{n}"
            item = Item(key=f"u:{link}", feed=feed.name, title=title, summary="", link=link,
                        published=when, lang=None)
            store.intake.record_items(feed, [NewItem(item)], now=when, backfill=False)
            [row] = store.db.rows("SELECT id FROM items WHERE feed = ? AND key = ?",
                                  [feed.name, item.key])
            ids[title], at[title] = row["id"], when  # type: ignore[assignment]
            for k in range(noise):
                later = when + timedelta(minutes=1 + k)
                variant = template_variant(title, rng)
                other = Feed(name=f"noise{k}", url=f"https://noise{k}.test/rss")
                store.intake.record_items(other, [NewItem(Item(
                    key=f"u:n{n}-{k}", feed=other.name, title=variant, summary="",
                    link=f"https://noise{k}.example/{n}", published=later, lang=None))],
                    now=later, backfill=False)
        result = Result()
        for n, pair in enumerate(pairs):
            when = at[pair.original] + timedelta(hours=1 + n % 47)
            candidates = store.stories.find(story_keys(pair.copy, published=when), now=when)
            found = any(c.item_id == ids[pair.original] for c in candidates)
            hard = pair.similarity < HARD[fold_title(pair.original).cjk]
            result.tested += 1
            result.hard += hard
            if not found:
                result.missed.append(pair)
                result.hard_missed += hard
        return result
    finally:
        store.close()


def run(n: int, seed: int, files: Sequence[Path] = FILES, noise: int = 0) -> dict[str, Result]:
    """Make n pairs per script from the files' titles and measure each script in its own store."""
    cjk_titles, latin_titles = load_titles(files)
    results: dict[str, Result] = {}
    for script, titles, edit in (("CJK", cjk_titles, cjk_edit),
                                 ("Latin", latin_titles, latin_edit)):
        pairs = make_pairs(titles, n, edit, random.Random(f"{seed}:{script}"))
        with tempfile.TemporaryDirectory() as tmp:
            results[script] = measure(pairs, Path(tmp) / "near_dup.db", noise)
    return results


def report(results: dict[str, Result], *, shown: int = 5) -> None:
    """The table, and a few missed pairs per script."""
    print("\n## near-identical titles: is the original a story candidate of its copy?\n")
    print("| script | pairs | misses | miss rate | harder pairs (CJK Dice < 90, Latin < 98) "
          "| their misses | target | |")
    print("|---|---|---|---|---|---|---|---|")
    for script, r in results.items():
        ok = "ok" if r.rate <= TARGET else "MISSED"
        print(f"| {script} | {r.tested:,} | {len(r.missed)} | {100 * r.rate:.2f} % | {r.hard:,} "
              f"| {r.hard_missed} | ≤ {100 * TARGET:.1f} % | {ok} |")
    for script, r in results.items():
        for pair in r.missed[:shown]:
            print(f"  {script} miss (similarity {pair.similarity:.0f}): "
                  f"{pair.original}  →  {pair.copy}")


def main() -> int:
    """Make the pairs, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000, help="pairs per script")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise", type=int, default=0,
                        help="same-template titles stored after each original (template-heavy "
                             "feeds: busy band keys)")
    args = parser.parse_args()
    missing = [str(f) for f in FILES if not f.is_file()]
    if missing:
        print(f"title sources not found: {', '.join(missing)} (the shared eval set lives in "
              f"../shared/eval/ beside the repository)", file=sys.stderr)
        return 2
    results = run(args.pairs, args.seed, noise=args.noise)
    short = [s for s, r in results.items() if r.tested < args.pairs]
    report(results)
    if short:
        print(f"(fewer pairs than asked for {', '.join(short)}: the edits ran out of distinct "
              f"near-identical copies)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
