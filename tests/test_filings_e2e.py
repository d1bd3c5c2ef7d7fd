"""The CAC registry end to end: a filing list on the local feed server, polled by `newsbot run`
(a subprocess) talking to the fake Bot API; then `newsbot filings suggest` on what it stored.

One batch alert reaches each chat that follows the deepfake list or a watched filer; a
longer version of the batch adds only its new filings; a re-published copy and a restart
alert nothing; /filings answers from the store; the suggested entities paste into rules/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_telegram import FakeTelegram, SentMessage
from tests.feedserver import FeedServer, Route
from tests.filing_lists import MORE_ROWS, ROWS, deep_synthesis_xlsx
from tests.test_pipeline import rss
from tests.test_telegram_e2e import INTERVAL, REPO, Deployment, wait_until

EVERYTHING, DEEPFAKE, BAIDU, KUAISHOU, LLM = 501, 502, 503, 504, 505
HEADING = "Deep-synthesis algorithm filings · 第15批 · 2025-11"


def feeds_yaml(d: Deployment, *, filings: bool) -> str:
    text = (f"defaults: {{interval: {INTERVAL}, timeout: 5s}}\nfeeds:\n"
            f"  - {{name: Local Tech, url: \"{d.feeds.url('/feed.xml')}\"}}\n")
    if filings:
        text += (f"  - {{name: CAC deep synthesis, url: \"{d.feeds.url('/list15.xlsx')}\", "
                 "kind: filings, filing_kind: deep-synthesis, batch: 第十五批}\n")
    return text


def batch_alerts(d: Deployment, chat: int) -> list[SentMessage]:
    """The batch alerts a chat received (not its /filings replies)."""
    return [m for m in d.fake.messages_to(chat)
            if m.plain.startswith(HEADING) and "Batch totals:" in m.plain]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("filings-e2e")
    with FakeTelegram() as fake, FeedServer() as feeds:
        d = Deployment(root, fake, feeds)
        feeds.routes["/feed.xml"] = Route(body=rss("Weather today"))
        (root / "feeds.yaml").write_text(feeds_yaml(d, filings=False), encoding="utf-8")
        d.start()
        yield d
        if d.proc is not None:
            d.stop()


def test_a_polled_filing_list_alerts_each_following_chat_once_per_new_filing(
        deployment: Deployment) -> None:
    d = deployment
    for chat, follow in ((EVERYTHING, None), (DEEPFAKE, "deepfake"), (BAIDU, "baidu"),
                         (KUAISHOU, "kuaishou"), (LLM, "llm")):
        d.say(chat, "/start")
        if follow:
            d.say(chat, f"/follow {follow}")
    assert "/filings — CAC filing registry" in d.say(EVERYTHING, "/help").plain
    assert d.say(EVERYTHING, "/filings").plain.startswith("No filing list stored yet.")

    # The list appears and the source is added to feeds.yaml (a hot reload).
    d.feeds.routes["/list15.xlsx"] = Route(
        body=deep_synthesis_xlsx(), etag='"v1"',
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    (d.root / "feeds.yaml").write_text(feeds_yaml(d, filings=True), encoding="utf-8")
    d.fake.wait_for(lambda sent: all(batch_alerts(d, c) for c in (EVERYTHING, DEEPFAKE, BAIDU)),
                    30)
    [everything] = batch_alerts(d, EVERYTHING)
    assert "• Baidu — 2: 文心一格图像生成算法; 度加数字人合成算法" in everything.plain
    assert "• ByteDance — 1: 抖音特效合成算法" in everything.plain
    assert "Batch totals: 6 algorithms, 4 companies." in everything.plain
    assert everything.parse_mode == "HTML"
    assert [m.plain for m in batch_alerts(d, DEEPFAKE)] == [everything.plain]
    [baidu] = batch_alerts(d, BAIDU)
    assert "Baidu" in baidu.plain and "ByteDance" not in baidu.plain

    # A longer version of the same batch: only the new filings, only to who wants them.
    d.feeds.routes["/list15.xlsx"] = Route(body=deep_synthesis_xlsx(ROWS + MORE_ROWS),
                                           etag='"v2"')
    d.fake.wait_for(lambda sent: len(batch_alerts(d, EVERYTHING)) == 2
                    and batch_alerts(d, KUAISHOU), 30)
    update = batch_alerts(d, EVERYTHING)[1].plain
    assert "2 more filings in this batch." in update
    assert "• Kuaishou — 1: 快手可灵视频生成算法" in update and "Baidu" not in update
    assert "Batch totals: 8 algorithms, 5 companies." in update
    assert "快手可灵视频生成算法" in batch_alerts(d, KUAISHOU)[0].plain

    latest = d.say(BAIDU, "/filings").plain
    assert latest.startswith(HEADING) and "Totals: 8 algorithms, 5 companies." in latest
    mine = d.say(BAIDU, "/filings baidu").plain
    assert mine.startswith("Latest filings of Baidu") and "网信算备110108823483901230029号" in mine

    # A re-published copy (another title, the same filings), then a restart: nothing more.
    d.feeds.routes["/list15.xlsx"] = Route(
        body=deep_synthesis_xlsx(ROWS + MORE_ROWS,
                                 title="境内深度合成服务算法备案清单（2025年11月，更正）"),
        etag='"v3"')
    polls = d.feeds.hits.get("/list15.xlsx", 0)
    wait_until(lambda: d.feeds.hits.get("/list15.xlsx", 0) >= polls + 2, 20, "two more polls")
    d.stop()
    d.start()
    polls = d.feeds.hits.get("/list15.xlsx", 0)
    wait_until(lambda: d.feeds.hits.get("/list15.xlsx", 0) >= polls + 2, 20, "polls after restart")
    d.wait_until_delivered()  # and what those polls queued, if anything, is sent
    counts = [len(batch_alerts(d, c)) for c in (EVERYTHING, DEEPFAKE, BAIDU, KUAISHOU, LLM)]
    assert counts == [2, 2, 1, 1, 0]
    assert "Traceback" not in d.logs()


def newsbot(d: Deployment, *args: str, rules: Path = REPO / "rules") -> subprocess.CompletedProcess:
    env = {k: v for k, v in d.env().items() if k != "TELEGRAM_BOT_TOKEN"}
    env["NEWSBOT_RULES"] = str(rules)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=d.root, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_suggest_proposes_exactly_the_unwatched_repeat_filers_ready_to_paste(
        deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    result = newsbot(d, "filings", "suggest")
    assert result.returncode == 0, result.stderr
    entries = [line for line in result.stdout.splitlines() if line.startswith("  - id: ")]
    assert len(entries) == 1  # 星云智绘 filed 3 times; 青禾 once; the rest are watched
    assert '    name: "星云智绘"' in result.stdout
    assert '    aliases: ["杭州星云智绘科技有限公司"]' in result.stdout
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    with (rules / "deepfake.yaml").open("a", encoding="utf-8") as f:
        f.write(result.stdout)
    check = newsbot(d, "check", rules=rules)
    assert check.returncode == 0, check.stderr
    explained = newsbot(d, "explain", "杭州星云智绘科技有限公司", rules=rules).stdout
    assert f"hit {entries[0].split()[-1]}" in explained
    listed = newsbot(d, "filings", "list", "--entity", "kuaishou", "--json").stdout
    assert '"algorithm": "快手可灵视频生成算法"' in listed and listed.count("\n") == 1
