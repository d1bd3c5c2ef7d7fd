"""Throughput of `match` against a plain exact Aho-Corasick scan of the same texts and aliases.

    .venv/bin/python bench/match_speed.py [--items 20000] [--rules rules] [--runs 5]

Both sides run as separate processes over the same JSONL file, and the wall clock of each
whole process is timed: interpreter start, imports, reading the rules (the `newsbot match`
command as the console script runs it: YAML or its compiled cache → tables; for the baseline
a JSON list of the same aliases → automaton), matching, and writing one JSON line per item.
The baseline scans the raw text (title + newline + summary) for the aliases as written, with
no folding and no checks: the cheapest honest exact multi-pattern scan. Runs alternate between
the sides and the median of the per-run ratios is
reported, with every per-run ratio; CPU time is printed too. Also printed: `newsbot match`
without a compiled-rules cache (first run after an edit), the library alone without the CLI,
and in-process figures (matching only, tables already built).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.match.matching import match_item  # noqa: E402
from bot.match.rules import load_watchlists  # noqa: E402

EN = [
    "The company said on Tuesday that revenue rose in the third quarter, beating estimates.",
    "Analysts expect regulators to publish new guidance on data exports later this year.",
    "Shares in Hong Kong closed lower as investors weighed the outlook for consumer demand.",
    "The startup plans to hire more engineers and open an office in Singapore next spring.",
    "Officials met industry representatives to discuss supply chains and chip shortages.",
    "A spokesperson declined to comment on the report, citing ongoing negotiations.",
    "The electric-vehicle maker delivered more cars than a year earlier despite price cuts.",
    "Researchers released a paper describing a faster way to train recommendation systems.",
    "The city government announced subsidies for small businesses affected by the floods.",
    "Smartphone shipments in China grew for the second month, according to a survey.",
]
ZH = [
    "公司周二表示,第三季度营收同比增长,超出市场预期。",
    "分析人士预计监管部门将于年内发布数据出境的新指引。",
    "香港股市收跌,投资者权衡消费需求前景。",
    "这家初创企业计划明年春天在新加坡设立办公室并扩招工程师。",
    "官员与行业代表会面,讨论供应链和芯片短缺问题。",
    "发言人以谈判仍在进行为由,拒绝对报道置评。",
    "新能源车企交付量同比增长,尽管此前多次降价。",
    "研究人员发表论文,介绍一种更快训练推荐系统的方法。",
    "市政府宣布为受洪灾影响的小企业提供补贴。",
    "调查显示,国内智能手机出货量连续第二个月增长。",
]
WATCHED_EN = ["Baidu's Ernie Bot", "Alibaba Cloud's Qwen model", "DeepSeek", "Moonshot AI's Kimi",
              "Tencent's Hunyuan", "ByteDance's Doubao", "Zhipu AI", "SenseTime", "iFlytek Spark",
              "the Cyberspace Administration of China"]
WATCHED_ZH = ["百度文心一言", "阿里云通义千问", "深度求索", "月之暗面Kimi", "腾讯混元大模型", "字节跳动豆包",
              "智谱", "商汤科技", "科大讯飞星火", "国家网信办"]


def make_items(n: int, seed: int = 7) -> list[dict[str, str]]:
    """Deterministic ~400-character items, half English, half Chinese, 10% naming an entity."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        zh = i % 2 == 1
        pool = ZH if zh else EN
        size = 150 if zh else 400
        title = rng.choice(pool)[: 60 if not zh else 25]
        parts: list[str] = []
        while sum(map(len, parts)) < size:
            parts.append(rng.choice(pool))
        if i % 10 == 0:
            name = rng.choice(WATCHED_ZH if zh else WATCHED_EN)
            parts.insert(rng.randrange(len(parts)), (name + "发布新模型。") if zh else
                         f"{name} said it would release a new model.")
        items.append({"id": f"i{i}", "title": title, "summary": ("" if zh else " ").join(parts)})
    return items


BASELINE = r"""
import json, sys, ahocorasick
aliases = json.load(open(sys.argv[1], encoding="utf-8"))
A = ahocorasick.Automaton()
for i, a in enumerate(aliases):
    A.add_word(a, i)
A.make_automaton()
out = sys.stdout
for line in sys.stdin:
    obj = json.loads(line)
    text = obj["title"] + "\n" + obj["summary"]
    found = sorted({aliases[i] for _, i in A.iter(text)})
    out.write(json.dumps({"id": obj["id"], "aliases": found}, ensure_ascii=False) + "\n")
"""

# the `newsbot match` command exactly as the console script runs it
CLI = "import sys; from bot.cli import main; sys.exit(main())"
# the library alone (no CLI imports), for reference
MATCHER = r"""
import sys
from pathlib import Path
from bot.match.matching import match_jsonl
from bot.match.rules import load_watchlists
wl = load_watchlists(Path(sys.argv[1]))
sys.stdout.writelines(line + "\n" for line in match_jsonl(sys.stdin, wl))
"""


CPU: dict[str, list[float]] = {}


def wall(cmd: list[str], data: Path, env: dict[str, str] | None = None, key: str = "") -> float:
    """Wall-clock seconds of one whole process reading `data` on stdin (CPU seconds go to CPU)."""
    with data.open("rb") as stdin:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, check=True, cwd=ROOT,
                       env=env)
        took = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU.setdefault(key, []).append(after.ru_utime + after.ru_stime
                                       - before.ru_utime - before.ru_stime)
        return took


def main() -> int:
    """Print whole-process and in-process throughput of the matcher and the baseline."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    items = make_items(args.items)
    wl = load_watchlists(args.rules, cache=False)
    aliases = sorted({spec.text for spec in wl.tables.alias_of.values()})
    avg = sum(len(i["title"]) + len(i["summary"]) for i in items) / len(items)
    n = len(items)
    py = sys.executable
    rules = str(args.rules.resolve())
    rows: dict[str, list[float]] = {"base": [], "cli": [], "cold": [], "lib": [], "start": []}
    with tempfile.TemporaryDirectory() as tmp:
        data, alias_file = Path(tmp) / "items.jsonl", Path(tmp) / "aliases.json"
        data.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                        encoding="utf-8")
        alias_file.write_text(json.dumps(aliases, ensure_ascii=False), encoding="utf-8")
        cache = Path(tmp) / "cache"
        warm = {**os.environ, "NEWSBOT_CACHE_DIR": str(cache)}
        cli = [py, "-c", CLI, "match", "--rules", rules]
        # An installed package has its bytecode compiled (pip does it); this machine sets
        # PYTHONDONTWRITEBYTECODE, which would make every run recompile bot/ from source
        # (~0.1 s). The baseline's modules (json, ahocorasick) are compiled already too.
        subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "bot")], check=True)
        wall(cli, Path("/dev/null"), warm)  # fills the compiled-rules cache
        # Rounds interleave the sides so that a busy spell of a shared machine hits both.
        for r in range(args.runs):
            rows["base"].append(wall([py, "-c", BASELINE, str(alias_file)], data, None, "base"))
            rows["cli"].append(wall(cli, data, warm, "cli"))
            cold = {**os.environ, "NEWSBOT_CACHE_DIR": str(Path(tmp) / f"cold{r}")}
            rows["cold"].append(wall(cli, data, cold, "cold"))
            rows["lib"].append(wall([py, "-c", MATCHER, rules], data, warm, "lib"))
            rows["start"].append(wall(cli, Path("/dev/null"), warm, "start"))

    import ahocorasick

    auto = ahocorasick.Automaton()
    for k, a in enumerate(aliases):
        auto.add_word(a, k)
    auto.make_automaton()
    matched = sum(1 for i in items if match_item(i["title"], i["summary"], wl))
    in_mine, in_base = [], []
    for _ in range(args.runs):
        t0 = time.process_time()
        for i in items:
            list(auto.iter(i["title"] + "\n" + i["summary"]))
        in_base.append(time.process_time() - t0)
        t0 = time.process_time()
        for i in items:
            match_item(i["title"], i["summary"], wl)
        in_mine.append(time.process_time() - t0)

    med = statistics.median
    base = med(rows["base"])
    print(f"{n} items, {avg:.0f} chars on average, {len(aliases)} aliases, "
          f"{matched} items with a hit; median of {args.runs} interleaved runs")
    print("whole process (start, imports, load rules, match, write JSONL), wall clock:")
    print(f"  baseline (plain exact pyahocorasick scan): {base:6.2f} s  {n / base:9,.0f} items/s")
    for key, label in (("cli", "newsbot match (rules cache warm)"),
                       ("cold", "newsbot match (no rules cache)"),
                       ("lib", "library only (no CLI imports)")):
        t = med(rows[key])
        ratios = sorted(b / m for b, m in zip(rows["base"], rows[key]))
        print(f"  {label + ':':42s} {t:6.2f} s  {n / t:9,.0f} items/s  = {med(ratios):.2f} x "
              f"baseline (median of per-run ratios {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"  newsbot match startup alone (no input):    {med(rows['start']):6.2f} s")
    print("whole process, CPU time (user + system; steadier on a shared machine), "
          "median of per-run ratios:")
    print(f"  baseline: {med(CPU['base']):5.2f} s" + "".join(
        f"   {k}: {med(CPU[k]):5.2f} s = "
        f"{med([b / m for b, m in zip(CPU['base'], CPU[k])]):.2f} x"
        for k in ("cli", "cold", "lib")) + f"   startup: {med(CPU['start']):.2f} s")
    ib, im = med(in_base), med(in_mine)
    print("in process (matching only, tables built; CPU time):")
    print(f"  baseline:   {n / ib:9,.0f} items/s")
    print(f"  match_item: {n / im:9,.0f} items/s  = "
          f"{med([b / m for b, m in zip(in_base, in_mine)]):.2f} x baseline (per-run ratios "
          f"{', '.join(f'{b / m:.2f}' for b, m in sorted(zip(in_base, in_mine)))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
