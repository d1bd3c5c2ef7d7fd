"""Score the matcher against labeled items: precision, recall and F1 per entity and per list.

    .venv/bin/python bench/eval_matcher.py --data ../shared/eval/dev.jsonl [--rules rules]

Entity level counts (item, entity) pairs; list level counts (item, list) pairs over the list
ids the labels use (llm, deepfake). Every false positive and false negative is listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.match.matching import match_item  # noqa: E402
from bot.match.rules import load_watchlists  # noqa: E402

LABELED_LISTS = ("llm", "deepfake")


def score(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (1.0 when there is nothing to find and nothing found)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def evaluate(items: list[dict], rules: Path) -> dict[str, dict]:
    """Match every item and count hits against labels, per level."""
    wl = load_watchlists(rules)
    levels: dict[str, dict] = {
        lv: {"tp": 0, "fp": [], "fn": []} for lv in ("entity", "list")
    }
    for item in items:
        hits = match_item(item.get("title", ""), item.get("summary", ""), wl)
        got = {
            "entity": {h.entity for h in hits},
            "list": {h.list for h in hits if h.list in LABELED_LISTS},
        }
        want = {"entity": set(item["entities"]), "list": set(item["lists"])}
        for lv in levels:
            levels[lv]["tp"] += len(got[lv] & want[lv])
            levels[lv]["fp"] += [(item["id"], x, item["title"]) for x in got[lv] - want[lv]]
            levels[lv]["fn"] += [(item["id"], x, item["title"]) for x in want[lv] - got[lv]]
    return levels


def main() -> int:
    """Print the scores and the errors; exit 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--rules", type=Path, default=Path(__file__).resolve().parents[1] / "rules")
    args = ap.parse_args()
    items = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    levels = evaluate(items, args.rules)
    print(f"{len(items)} items from {args.data}")
    for lv, c in levels.items():
        p, r, f = score(c["tp"], len(c["fp"]), len(c["fn"]))
        print(f"{lv:6} precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}  "
              f"(tp {c['tp']}, fp {len(c['fp'])}, fn {len(c['fn'])})")
    for lv, c in levels.items():
        for kind in ("fp", "fn"):
            for item_id, x, title in c[kind]:
                print(f"  {lv} {kind.upper()} {item_id} {x}: {title}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
