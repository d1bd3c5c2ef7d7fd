"""Soak benchmark: `newsbot run` against 500 local feeds for 10 minutes; is memory flat?

    .venv/bin/python bench/soak.py [--feeds 500] [--minutes 10] [--interval 10]

Time is accelerated: feeds are polled every --interval seconds instead of every 10-15
minutes, so ten minutes of wall time are about 60 polls per feed, the work of a day or more.
The feeds live on 10 local hosts: 10% are slow (2 s to answer), 10% fail (HTTP 500, or a
refused connection), 20% gain a new item every 6 seconds (with a watched name now and then),
and the rest never change (304). The whole `newsbot run` process tree (with its parse
workers) is sampled from /proc. It prints RSS over time and cycles completed, and compares
the RSS after warm-up with the RSS at the end: memory must be flat (no growth after warm-up).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.poll_cycle import descendants, rss_kb  # noqa: E402
from tests.feedserver import FeedServer, Route, closed_port  # noqa: E402

HEADLINES = [
    "Alibaba releases Qwen update {n}", "Baidu Ernie Bot adds feature {n}",
    "Local weather report {n}", "Market wrap for session {n}", "DeepSeek paper {n} draws praise",
]


def feed_body(name: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>{escape(HEADLINES[i % len(HEADLINES)].format(n=i))} ({escape(name)})</title>"
        f"<link>https://soak.example/{name}/{i}</link><guid>{name}-{i}</guid>"
        f"<description>Item {i} of {escape(name)}: {'lorem ipsum ' * 20}</description></item>"
        for i in range(max(0, count - 30), count)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(name)}</title>'
            f"{items}</channel></rss>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    opts = parser.parse_args()

    rng = random.Random(3)
    servers = [FeedServer(f"127.0.0.{20 + h}").start() for h in range(10)]
    refused_sock, refused_port = closed_port()
    changing: list[tuple[FeedServer, str, str]] = []
    counts: dict[str, int] = {}
    lines = [f"defaults: {{interval: {opts.interval}s, timeout: 10s}}", "feeds:"]
    for i in range(opts.feeds):
        server = servers[i % len(servers)]
        name, path, kind = f"soak-{i}", f"/soak/{i}.xml", rng.random()
        counts[name] = 30
        url = server.url(path)
        if kind < 0.05:
            server.routes[path] = Route(status=500, body=b"boom")
        elif kind < 0.10:
            url = f"http://127.0.0.{20 + i % 10}:{refused_port}/soak/{i}.xml"
        elif kind < 0.20:
            server.routes[path] = Route(body=feed_body(name, 30), etag=f'"{i}-30"', latency=2.0)
        else:
            server.routes[path] = Route(body=feed_body(name, 30), etag=f'"{i}-30"')
            if kind < 0.40:
                changing.append((server, path, name))
        lines.append(f"  - {{name: {name}, url: '{url}'}}")

    stop = threading.Event()

    def change_feeds() -> None:
        while not stop.wait(6.0):
            for server, path, name in changing:
                counts[name] += 1
                server.routes[path] = Route(body=feed_body(name, counts[name]),
                                            etag=f'"{name}-{counts[name]}"')

    samples: list[tuple[float, int, int]] = []
    cycles = 0
    with tempfile.TemporaryDirectory() as tmp:
        feeds = Path(tmp) / "feeds.yaml"
        feeds.write_text("\n".join(lines) + "\n")
        env = dict(os.environ, PTB_TIMEDELTA="1", NEWSBOT_LOG_LEVEL="INFO")
        env.pop("TELEGRAM_BOT_TOKEN", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--feeds", str(feeds), "--db",
             str(Path(tmp) / "soak.db"), "--rules", str(REPO / "rules")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )

        def count_cycles() -> None:
            nonlocal cycles
            assert proc.stderr is not None
            for line in proc.stderr:
                if re.search(r" cycle: \d+ feeds", line):
                    cycles += 1

        threading.Thread(target=count_cycles, daemon=True).start()
        threading.Thread(target=change_feeds, daemon=True).start()
        start = time.monotonic()
        end = start + opts.minutes * 60
        print(f"\nsoak: {opts.feeds} feeds, interval {opts.interval:g}s, {opts.minutes:g} min, "
              f"{len(changing)} changing every 6 s; whole `newsbot run` process tree\n")
        print("| t (s) | RSS main (MB) | RSS with workers (MB) | cycles |")
        print("|---|---|---|---|")
        try:
            while time.monotonic() < end and proc.poll() is None:
                time.sleep(min(opts.sample, max(0.0, end - time.monotonic())))
                main_kb = rss_kb(proc.pid)
                tree_kb = main_kb + sum(rss_kb(p) for p in descendants(proc.pid))
                t = time.monotonic() - start
                samples.append((t, main_kb, tree_kb))
                print(f"| {t:5.0f} | {main_kb / 1024:6.1f} | {tree_kb / 1024:6.1f} | {cycles} |",
                      flush=True)
        finally:
            stop.set()
            proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            code = proc.wait(timeout=30)
            exit_s = time.monotonic() - t0
            for server in servers:
                server.stop()
            refused_sock.close()

    if len(samples) < 6:
        raise SystemExit("too few samples; run longer")
    third = len(samples) // 3
    warm = sorted(s[1] for s in samples[third : 2 * third])[third // 2] / 1024
    late = sorted(s[1] for s in samples[2 * third :])[(len(samples) - 2 * third) // 2] / 1024
    growth = (late - warm) / warm * 100
    print(f"\nmedian RSS (main) after warm-up {warm:.1f} MB, in the last third {late:.1f} MB: "
          f"{growth:+.1f}%  ({'flat' if abs(growth) < 5 else 'GROWING'})")
    print(f"cycles completed: {cycles}; SIGTERM → exit {code} in {exit_s:.1f} s")


if __name__ == "__main__":
    main()
