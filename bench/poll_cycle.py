"""Benchmark: one cold and one warm `newsbot poll` over N synthetic feeds on several local hosts.

    .venv/bin/python bench/poll_cycle.py [--feeds 1000] [--items 30] [--hosts 20] [--latency 0.1]

Serves N feeds (N/hosts per host, 127.0.0.2, 127.0.0.3 …, each answer delayed by --latency),
then runs `newsbot poll` twice as a subprocess — the whole process is measured: start-up,
imports, rules, fetching, parsing, matching, SQLite. The first cycle is cold (every body is
new: fetch, parse, store); the second is warm (nothing changed: every feed answers 304).
Peak RSS is sampled from /proc: the newsbot process alone, and with its parse workers.
Targets on a 2-core machine: warm ≤ 2 s, cold ≤ 30 s, peak RSS ≤ 150 MB.

    .venv/bin/python bench/poll_cycle.py --vocabulary small   # template-heavy headlines
    .venv/bin/python bench/poll_cycle.py --compare            # both, and their cold-time ratio
    .venv/bin/python bench/poll_cycle.py --compare --rounds 4 # four pairs, in ABBA order

Headlines are varied by default (a news-sized vocabulary). `--vocabulary small` draws them from
~30 words, as template-heavy feeds write them ("Baidu launches agent 42", "腾讯上线智能体17"):
many items share title bands and watched entities, so each story lookup meets many
candidates. Target: a template-heavy cold cycle costs at most 2× a varied one (`--compare`
runs both on fresh databases and prints the ratio small/varied).

On a shared machine one pair's ratio moves with the machine's speed between its two runs
(two runs back to back of the same code gave 1.63× and 2.09×): `--rounds N` runs N pairs, alternating which goes
first (varied-small, small-varied, …, so a steady drift cancels), and prints every pair's
ratio, their median and range, and the main process's CPU ratio beside each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.feedserver import FeedServer, Route  # noqa: E402

WORDS = (
    "market model cloud chip launch users growth data policy report open source agent "
    "startup funding rules platform search video robot city energy phone battery network "
    "research team release update price survey partner service security government"
).split()
ENTITY_TITLES = [
    "Baidu upgrades Ernie Bot with new reasoning mode",
    "Alibaba releases Qwen 3 open-weight models",
    "Moonshot AI's Kimi assistant adds long-context search",
    "DeepSeek publishes R2 technical report",
    "Zhipu AI files for Hong Kong listing of its GLM business",
    "网信办发布第十批深度合成服务算法备案信息",
    "科大讯飞发布讯飞星火大模型新版本",
    "字节跳动豆包大模型日活突破一亿",
]
ZH_WORDS = "市场 模型 云计算 芯片 发布 用户 增长 数据 政策 报告 开源 智能体 创业 融资 平台 搜索 视频".split()
# Headlines draw on a news-sized vocabulary: with only the few dozen words above, every pair
# of titles would look alike to story clustering, which no real feed set does.
_SYLLABLES = "ba ko ri ten mu sa lo ve dan pi gor al tu mer sin ca ro le fi nu".split()
HEADLINE_WORDS = WORDS + [
    "".join(random.Random(n).choices(_SYLLABLES, k=3)) for n in range(4000)
]
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]
ZH_HEADLINE_WORDS = ZH_WORDS + [
    "".join(random.Random(-n).choices(_HAN, k=2)) for n in range(3000)
]
# --vocabulary small: "{Company} {verb} {product} {number}", ~30 words per language; the
# companies are watched entities, so most of these items match and are compared as events too
SMALL_COMPANIES = (
    "Baidu", "Alibaba", "Tencent", "ByteDance", "Huawei", "Xiaomi", "Zhipu", "Moonshot",
    "DeepSeek"
)
SMALL_VERBS = (
    "launches", "updates", "releases", "tests", "opens", "upgrades", "ships", "expands",
    "prices"
)
SMALL_PRODUCTS = (
    "model", "chatbot", "agent", "app", "platform", "assistant", "chip", "cloud", "API",
    "search"
)
ZH_SMALL_COMPANIES = ("百度", "阿里巴巴", "腾讯", "字节跳动", "华为", "小米", "智谱", "月之暗面", "深度求索")
ZH_SMALL_VERBS = ("发布", "更新", "上线", "测试", "开放", "升级", "推出", "扩展", "降价")
ZH_SMALL_PRODUCTS = ("大模型", "聊天机器人", "智能体", "应用", "平台", "助手", "芯片", "云服务", "接口", "搜索")
VOCABULARIES = ("varied", "small")


def small_title(chinese: bool, rng: random.Random) -> str:
    """A template headline from the small vocabulary."""
    number = rng.randint(1, 99)
    if chinese:
        return (f"{rng.choice(ZH_SMALL_COMPANIES)}{rng.choice(ZH_SMALL_VERBS)}"
                f"{rng.choice(ZH_SMALL_PRODUCTS)}{number}")
    return (f"{rng.choice(SMALL_COMPANIES)} {rng.choice(SMALL_VERBS)} "
            f"{rng.choice(SMALL_PRODUCTS)} {number}")


def synthetic_feed(index: int, items: int, rng: random.Random,
                   vocabulary: str = "varied") -> bytes:
    chinese = index % 3 == 0
    parts = []
    for i in range(items):
        if vocabulary == "small":
            title = small_title(chinese, rng)
        elif rng.random() < 0.1:
            title = rng.choice(ENTITY_TITLES)
        elif chinese:
            title = "".join(rng.choices(ZH_HEADLINE_WORDS, k=8))
        else:
            title = " ".join(rng.choices(HEADLINE_WORDS, k=9)).capitalize()
        words = ZH_WORDS if chinese else WORDS
        summary = ("" if chinese else " ").join(rng.choices(words, k=50 if not chinese else 90))
        parts.append(
            f"<item><title>{escape(title)} #{index}-{i}</title>"
            f"<link>https://news{index % 50}.example/{index}/{i}?utm_source=rss</link>"
            f"<guid isPermaLink=\"false\">feed{index}-item{i}</guid>"
            f"<pubDate>Fri, 27 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<description><![CDATA[<p>{escape(summary)}</p>]]></description></item>"
        )
    lang = "zh-cn" if chinese else "en"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Synthetic feed {index}</title><link>https://news.example/</link>"
        f"<language>{lang}</language>{''.join(parts)}</channel></rss>"
    ).encode()


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out.append(int(child))
                out.extend(descendants(int(child)))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


# wall seconds, peak RSS main / tree (kB), last stderr line, CPU seconds main / parse workers
Poll = tuple[float, int, int, str, float, float]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, itself only."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_poll(args: list[str], env: dict[str, str]) -> Poll:
    """Run one `newsbot poll`; return wall seconds, peak RSS (main, tree) in kB, stderr, and
    the CPU seconds of the main process and of its parse workers (sampled every 20 ms)."""
    peak_main = peak_tree = 0
    cpu: dict[int, float] = {}  # pid → its CPU seconds at the last sample
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_main, peak_tree
        while not done.is_set():
            main = rss_kb(proc.pid)
            children = descendants(proc.pid)
            tree = main + sum(rss_kb(p) for p in children)
            peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
            for pid in (proc.pid, *children):
                cpu[pid] = max(cpu.get(pid, 0.0), cpu_s(pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"newsbot poll failed ({proc.returncode}):\n{stderr}")
    main_cpu = cpu.pop(proc.pid, 0.0)
    return (elapsed, peak_main, peak_tree, stderr.strip().splitlines()[-1], main_cpu,
            sum(cpu.values()))


def run_cycles(opts: argparse.Namespace, vocabulary: str) -> tuple[Poll, Poll, int]:
    """Serve the synthetic feeds, run a cold then a warm `newsbot poll` on a fresh database."""
    rng = random.Random(7)
    servers = [FeedServer(f"127.0.0.{2 + h}").start() for h in range(opts.hosts)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lines = ["defaults: {interval: 10m, timeout: 30s}", "feeds:"]
            for i in range(opts.feeds):
                server = servers[i % len(servers)]
                server.routes[f"/feed/{i}.xml"] = Route(
                    body=synthetic_feed(i, opts.items, rng, vocabulary), etag=f'"v{i}"',
                    last_modified="Fri, 27 Nov 2026 10:00:00 GMT", latency=opts.latency,
                )
                lines.append(f"  - {{name: feed-{i}, url: '{server.url(f'/feed/{i}.xml')}'}}")
            feeds_path = Path(tmp) / "feeds.yaml"
            feeds_path.write_text("\n".join(lines) + "\n")
            env = dict(os.environ, PTB_TIMEDELTA="1")
            env.pop("TELEGRAM_BOT_TOKEN", None)
            newsbot = [sys.executable, "-m", "bot", "poll", "--feeds", str(feeds_path),
                       "--db", str(Path(tmp) / "bench.db"), "--rules", str(opts.rules)]
            # py-spy sees the threads (intake and matching run off the event loop), which
            # cProfile would not: `pip install py-spy` first
            profiled = ([str(Path(sys.executable).with_name("py-spy")), "record", "-o",
                         str(opts.profile), "-f", "raw", "-r", "50", "--", *newsbot]
                        if opts.profile else newsbot)
            cold = run_poll(profiled, env)
            warm = run_poll(newsbot, env)
            not_modified = sum(s.hits.get(p, 0) for s in servers for p in s.routes)
    finally:
        for server in servers:
            server.stop()
    return cold, warm, not_modified


def print_table(opts: argparse.Namespace, vocabulary: str, cold: Poll, warm: Poll,
                not_modified: int) -> None:
    total_items = opts.feeds * opts.items
    print(f"\npoll_cycle: {opts.feeds} feeds × {opts.items} items on {opts.hosts} hosts, "
          f"{opts.latency * 1000:.0f} ms latency, {os.cpu_count()} cores, whole `newsbot poll` process"
          f", {vocabulary} headlines\n")
    print("| cycle | wall time | items/s | peak RSS (main) | peak RSS (with parse workers) "
          "| CPU main / workers | target |")
    print("|---|---|---|---|---|---|---|")
    print(f"| cold (all new) | {cold[0]:.2f} s | {total_items / cold[0]:,.0f} | {cold[1] / 1024:.0f} MB "
          f"| {cold[2] / 1024:.0f} MB | {cold[4]:.1f} s / {cold[5]:.1f} s | ≤ 30 s, ≤ 150 MB |")
    print(f"| warm (all 304) | {warm[0]:.2f} s | – | {warm[1] / 1024:.0f} MB "
          f"| {warm[2] / 1024:.0f} MB | {warm[4]:.1f} s / {warm[5]:.1f} s | ≤ 2 s |")
    print(f"\ncold: {cold[3]}\nwarm: {warm[3]}\n(requests served: {not_modified})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rules", type=Path, default=REPO / "rules")
    parser.add_argument("--profile", type=Path,
                        help="py-spy (collapsed stacks) of the cold cycle's main process, to FILE")
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default="varied",
                        help="headlines: varied (news-sized vocabulary) or small (~30 words)")
    parser.add_argument("--compare", action="store_true",
                        help="run varied, then small; print the ratio of their cold cycles")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --compare: this many pairs, in alternating order")
    opts = parser.parse_args()

    if not opts.compare:
        cold, warm, not_modified = run_cycles(opts, opts.vocabulary)
        print_table(opts, opts.vocabulary, cold, warm, not_modified)
        return
    pairs: list[dict[str, Poll]] = []
    for round_ in range(max(1, opts.rounds)):
        order = VOCABULARIES if round_ % 2 == 0 else VOCABULARIES[::-1]
        colds: dict[str, Poll] = {}
        for vocabulary in order:
            cold, warm, not_modified = run_cycles(opts, vocabulary)
            print_table(opts, vocabulary, cold, warm, not_modified)
            colds[vocabulary] = cold
        pairs.append(colds)
    print("\n| pair (first run) | varied | small | small / varied | CPU, main process: varied, "
          "small, ratio |")
    print("|---|---|---|---|---|")
    ratios = []
    for n, colds in enumerate(pairs, 1):
        varied, small = colds["varied"], colds["small"]
        ratios.append(small[0] / varied[0])
        print(f"| {n} ({next(iter(colds))}) | {varied[0]:.2f} s | {small[0]:.2f} s "
              f"| {ratios[-1]:.2f}× | {varied[4]:.1f} s, {small[4]:.1f} s, "
              f"{small[4] / max(varied[4], 1e-9):.2f}× |")
    median = statistics.median(ratios)
    print(f"\nsmall / varied cold cycle: median {median:.2f}× over {len(ratios)} pair(s), "
          f"{min(ratios):.2f}–{max(ratios):.2f}×; target ≤ 2× "
          f"({'ok' if median <= 2 else 'MISSED'}; {sum(r <= 2 for r in ratios)} of "
          f"{len(ratios)} pairs within it)")


if __name__ == "__main__":
    main()
