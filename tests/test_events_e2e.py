"""End to end: one happening reported by many outlets is ONE alert; a new happening is another.

`newsbot run` as a subprocess against the fake Bot API (tests/fake_telegram.py) and a local
feed server (tests/feedserver.py), one feed per outlet, one subscribed chat. Items carry
realistic, differently worded headlines and explicit pubDates in the recent past; the rules
are /work/shared/eval/EVENTS.md's: reports of one happening within 48 h are one story (one
alert, later sources named in an edit of it, a source in another language marked as such);
a new happening about the same product (a price cut the next day, another version) is a
new story. The oracle is what the fake Bot API recorded: sendMessage and editMessageText.

Scenarios:
1. Five outlets report Baidu's Ernie 5.0 launch within a few hours (three English rewrites,
   a Chinese report, an aggregator's verbatim copy): one alert, edited to name the others.
2. The next day Baidu halves Ernie 5.0's API prices (English and Chinese reports): one new
   alert of its own, not an edit of the launch's.
3. "Baidu launches Ernie 4.5" and "Baidu launches Ernie 5.0", hours apart: two alerts.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.fake_telegram import FakeTelegram, SentMessage
from tests.feedserver import FeedServer, Route
from tests.test_telegram_e2e import INTERVAL, Deployment, wait_until

CHAT = 4242
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=30)  # the Ernie 5.0 launch's first report; its price cut is T0 + 27 h


@dataclass(frozen=True)
class Entry:
    """One news item as an outlet's feed carries it."""

    guid: str
    title: str
    summary: str
    link: str
    published: datetime


@dataclass
class Outlet:
    name: str
    lang: str
    path: str
    entries: list[Entry] = field(default_factory=list)


def rss(outlet: Outlet) -> bytes:
    """The outlet's RSS body, newest item first, RFC 822 pubDates."""
    entries = "".join(
        f"<item><guid isPermaLink=\"false\">{escape(e.guid)}</guid>"
        f"<title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
        f"<description>{escape(e.summary)}</description>"
        f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate></item>"
        for e in sorted(outlet.entries, key=lambda e: e.published, reverse=True))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(outlet.name)}</title><link>https://outlet.test{outlet.path}</link>"
            f"<description>{escape(outlet.name)}</description>"
            f"<language>{outlet.lang}</language>{entries}</channel></rss>").encode()


@dataclass
class Newsroom(Deployment):
    """Deployment with one feed per outlet (feeds.yaml written by `newsroom`)."""

    outlets: dict[str, Outlet] = field(default_factory=dict)

    def publish_to(self, outlet: str, *entries: Entry) -> None:
        o = self.outlets[outlet]
        o.entries.extend(entries)
        self.feeds.routes[o.path] = Route(body=rss(o))

    # -- the bot's database, read-only (Deployment.query): what is stored, what is to deliver
    def stored(self, outlet: str, entry: Entry) -> bool:
        rows = self.query("SELECT 1 FROM items WHERE feed = ? AND guid = ?", (outlet, entry.guid))
        return bool(rows)

    def due_soon(self, within: float = 8.0) -> bool:
        """Whether a delivery to CHAT is pending and due within `within` seconds (an edit
        spaced a minute after the last one is not: waiting for it would only slow tests)."""
        return self.pending(CHAT, within) != 0  # None (unreadable yet): assume so

    def settle(self, published: list[tuple[str, Entry]], timeout: float = 20.0) -> None:
        """Wait until every published entry is stored, every feed polled once more, and the
        chat's outbox is drained: nothing more may arrive.

        A delivery due more than a few seconds ahead (an edit spaced a minute after the last
        one) is not waited for: the assertions that follow then show what the chat has got.
        """
        wait_until(lambda: all(self.stored(o, e) for o, e in published), timeout,
                   f"{[e.guid for _, e in published]} to be stored")
        self.wait_for_polls(2, timeout=timeout)  # a last poll cycle stored what it found
        try:
            wait_until(lambda: not self.due_soon(), timeout, "the outbox to drain")
        except AssertionError:
            pass


@contextmanager
def newsroom(root: Path, outlets: list[tuple[str, str]]) -> Iterator[Newsroom]:
    """`newsbot run` with one feed per (outlet, lang), every feed polled once (backfill:
    stored, never pushed), CHAT subscribed. The bot is stopped (killed if need be) after."""
    with FakeTelegram() as fake, FeedServer() as feeds:
        d = Newsroom(root, fake, feeds)
        lines = []
        for i, (name, lang) in enumerate(outlets):
            o = Outlet(name, lang, f"/feeds/{i}.xml")
            d.outlets[name] = o
            d.publish_to(name, Entry(f"weather-{i}", "Weather: sunny spells, light winds",
                                     "A dry day for most, with highs of 21C.",
                                     f"https://weather.test/{i}", NOW - timedelta(hours=40)))
            lines.append(f'  - {{name: "{name}", url: "{feeds.url(o.path)}", lang: {lang}}}\n')
        (root / "feeds.yaml").write_text(
            f"defaults: {{interval: {INTERVAL}, timeout: 5s}}\nfeeds:\n" + "".join(lines),
            encoding="utf-8")
        try:
            d.start()
            reply = d.say(CHAT, "/start")
            assert "Subscribed" in reply.plain, reply.plain
            wait_until(lambda: (d.query("SELECT COUNT(DISTINCT feed) FROM items WHERE backfill = 1")
                                or [(0,)])[0][0] == len(outlets), 20, "every feed's backfill poll")
            yield d
        finally:  # a failed assertion must not leave a bot running after the test
            proc = d.proc
            if proc is not None and proc.poll() is None:
                try:
                    d.stop(signal.SIGTERM)
                finally:  # stop() forgets the process even when it did not end in time
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()


# ---------------------------------------------------------------------------- the oracle

_FIRST_HREF = re.compile(r'<a href="([^"]+)"')


def title_link(m: SentMessage) -> str | None:
    """The alert's headline link: the first link of the message (sources come after it)."""
    found = _FIRST_HREF.search(m.text)
    return found.group(1).replace("&amp;", "&") if found else None


def alerts_for(d: Newsroom, entries: list[Entry]) -> list[SentMessage]:
    """The chat's alerts (sendMessage) whose headline is one of `entries`."""
    links = {e.link for e in entries}
    return [m for m in d.fake.messages_to(CHAT) if title_link(m) in links]


def edits_of(d: Newsroom, alert: SentMessage) -> list[SentMessage]:
    return [m for m in d.fake.sent if m.method == "editMessageText"
            and m.chat_id == alert.chat_id and m.message_id == alert.message_id]


def final_text(d: Newsroom, alert: SentMessage) -> str:
    """What the chat shows for this alert now: its last edit, or the alert itself."""
    return (edits_of(d, alert) or [alert])[-1].plain


def chat_log(d: Newsroom) -> str:
    """Everything the chat received, for failure messages."""
    out = []
    for m in d.fake.sent:
        if m.chat_id == CHAT:
            out.append(f"--- {m.method} #{m.message_id}:\n{m.plain}")
    return "\n".join(out) or "(nothing)"


def describe(d: Newsroom, what: str, alerts: list[SentMessage], expected: int) -> str:
    texts = "\n".join(f"--- alert #{m.message_id}:\n{m.plain}" for m in alerts)
    return (f"{len(alerts)} alerts for {what}, expected {expected}:\n{texts}\n"
            f"=== everything the chat received:\n{chat_log(d)}\n"
            f"=== stories as stored (story id, feed, title):\n{story_log(d)}")


def story_log(d: Newsroom) -> str:
    rows = d.query("SELECT story_id, feed, title FROM items WHERE backfill = 0 ORDER BY id") or []
    return "\n".join(f"{r[0]}  {r[1]}: {r[2]}" for r in rows) or "(nothing)"


def names_with_language(text: str, outlet: str, lang: str) -> bool:
    """The outlet is named with its language marked next to it ("36氪 (zh)", "[zh] 36氪" …)."""
    return re.search(rf"{re.escape(outlet)}[^,，\n]{{0,12}}\b{lang}\b"
                     rf"|\b{lang}\b[^,，\n]{{0,12}}{re.escape(outlet)}", text) is not None


# ---------------------------------------------------------------------------- scenarios 1 + 2

REUTERS, BLOOMBERG, SCMP = "Reuters", "Bloomberg", "South China Morning Post"
KR36, AGGREGATOR, SINA = "36氪", "AI News Digest", "新浪科技"
OUTLETS = [(REUTERS, "en"), (BLOOMBERG, "en"), (SCMP, "en"), (KR36, "zh"), (AGGREGATOR, "en"),
           (SINA, "zh")]

_REUTERS_LINK = ("https://www.reuters.com/technology/"
                 "baidu-unveils-ernie-5-its-most-capable-model-yet/")
_REUTERS_SUMMARY = (
    "Chinese search giant Baidu unveiled Ernie 5.0, a natively multimodal foundation model it "
    "says rivals leading U.S. systems in reasoning and coding, as competition among Chinese "
    "AI developers intensifies.")
LAUNCH = [
    (REUTERS, Entry(
        "reuters-ernie5", "Baidu unveils Ernie 5.0, its most capable AI model yet",
        _REUTERS_SUMMARY, _REUTERS_LINK, T0)),
    (BLOOMBERG, Entry(
        "bbg-ernie5", "Baidu Unveils ERNIE 5.0 Model as Chinese AI Race Heats Up",
        "Baidu Inc. introduced the latest version of its flagship artificial intelligence "
        "model, stepping up efforts to keep pace with DeepSeek, Alibaba Group Holding Ltd. and "
        "Moonshot AI in China's crowded chatbot market.",
        "https://www.bloomberg.com/news/articles/baidu-unveils-ernie-5-model-ai-race",
        T0 + timedelta(minutes=45))),
    (SCMP, Entry(
        "scmp-ernie5",
        "Baidu takes aim at DeepSeek and Alibaba with 'omni-modal' Ernie 5.0 at Baidu World",
        "The Beijing-based company showed off its new foundation model at its annual Baidu "
        "World conference, saying a single model now understands and generates text, images, "
        "audio and video.",
        "https://www.scmp.com/tech/big-tech/article/baidu-ernie-5-omni-modal-baidu-world",
        T0 + timedelta(hours=1, minutes=40))),
    (KR36, Entry(
        "36kr-ernie5", "百度发布文心大模型5.0：原生全模态，参数规模达2.4万亿",
        "在今天举行的百度世界大会上，百度正式发布文心大模型5.0。该模型采用原生全模态统一建模，"
        "可同时理解和生成文本、图像、音频与视频，已在文心一言官网和百度智能云千帆平台上线。",
        "https://36kr.com/p/3551234567890123", T0 + timedelta(hours=2, minutes=10))),
    (AGGREGATOR, Entry(  # a verbatim copy: same headline, same link
        "digest-8812", "Baidu unveils Ernie 5.0, its most capable AI model yet",
        _REUTERS_SUMMARY, _REUTERS_LINK, T0 + timedelta(hours=2, minutes=30))),
]
PRICE_CUT = [
    (REUTERS, Entry(
        "reuters-ernie5-price", "Baidu cuts Ernie 5.0 API prices by half",
        "Baidu said it would halve the price developers pay to use its Ernie 5.0 model through "
        "its cloud platform, a day after the model's launch, deepening a price war among "
        "Chinese AI companies competing for enterprise customers.",
        "https://www.reuters.com/technology/baidu-cuts-ernie-5-api-prices-by-half/",
        T0 + timedelta(hours=27))),
    (SINA, Entry(
        "sina-ernie5-price", "百度文心5.0 API价格直降50%，输入每百万tokens仅需3元",
        "百度智能云宣布，文心大模型5.0的API调用价格下调50%，输入价格降至每百万tokens 3元，"
        "输出价格降至每百万tokens 12元，距该模型发布仅一天。",
        "https://finance.sina.com.cn/tech/2025-ernie5-api-price-cut.shtml",
        T0 + timedelta(hours=27, minutes=35))),
]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    with newsroom(tmp_path_factory.mktemp("events"), OUTLETS) as d:
        yield d


def publish_launch(d: Newsroom) -> None:
    """Scenario 1's items, once: the first report alone, then the four others together.

    The first edit of the alert is answered 429 (Telegram rate-limits edits too), so the
    one edit that follows is made after all four later sources are stored and must name
    them all; without it, sources recorded in two poll cycles would need two edits, and
    the second waits a minute (the outbox's EDIT_EVERY).
    """
    if d.stored(*LAUNCH[-1]):
        return
    d.publish_to(*LAUNCH[0])
    d.settle(LAUNCH[:1])
    d.fake.fail("editMessageText", kind="429", chat_id=CHAT, retry_after=4)
    for outlet, entry in LAUNCH[1:]:
        d.publish_to(outlet, entry)
    d.settle(LAUNCH)


def test_five_outlets_reporting_one_launch_are_one_alert_naming_the_others(
        desk: Newsroom) -> None:
    d = desk
    publish_launch(d)
    alerts = alerts_for(d, [e for _, e in LAUNCH])
    assert len(alerts) == 1, describe(d, "the Ernie 5.0 launch (5 outlets)", alerts, 1)
    [alert] = alerts
    assert title_link(alert) == _REUTERS_LINK, "the alert is not the first report:\n" + alert.plain
    edits = edits_of(d, alert)
    assert edits, f"the alert was never edited to name its other sources; chat:\n{chat_log(d)}"
    final = final_text(d, alert)
    missing = [o for o, _ in LAUNCH[1:] if o not in final]
    assert not missing, f"the alert's final text does not name {missing}:\n{final}"
    assert names_with_language(final, KR36, "zh"), (
        f"{KR36} (a Chinese source of an English alert) is not marked 'zh':\n{final}")


def test_a_price_cut_the_next_day_is_its_own_alert(desk: Newsroom) -> None:
    d = desk
    publish_launch(d)
    launch_alerts = alerts_for(d, [e for _, e in LAUNCH])
    launch_texts_before = [final_text(d, m) for m in launch_alerts]
    d.publish_to(*PRICE_CUT[0])
    d.settle([*LAUNCH, PRICE_CUT[0]])
    d.publish_to(*PRICE_CUT[1])
    d.settle([*LAUNCH, *PRICE_CUT])
    cut_alerts = alerts_for(d, [e for _, e in PRICE_CUT])
    assert len(cut_alerts) == 1, describe(d, "the Ernie 5.0 price cut (2 outlets)", cut_alerts, 1)
    [cut] = cut_alerts
    assert title_link(cut) == PRICE_CUT[0][1].link, f"not the first report's alert:\n{cut.plain}"
    final = final_text(d, cut)
    assert SINA in final, f"the price cut's alert does not name {SINA}:\n{final}"
    assert names_with_language(final, SINA, "zh"), f"{SINA} is not marked 'zh':\n{final}"
    # The launch's alert is untouched by the price cut: no new source, no new edit text.
    for m, before in zip(launch_alerts, launch_texts_before, strict=True):
        now = final_text(d, m)
        assert SINA not in now and "price" not in now.lower(), (
            f"the price cut was merged into the launch's alert:\n{now}")
        assert now == before, f"the launch's alert changed:\n{before}\n=> now:\n{now}"


# ---------------------------------------------------------------------------- scenario 3

def test_two_versions_hours_apart_are_two_alerts(tmp_path: Path) -> None:
    ernie45 = Entry(
        "technode-ernie45", "Baidu launches Ernie 4.5",
        "Baidu released Ernie 4.5, an upgrade of its foundation model with stronger reasoning "
        "and image understanding, and made it free for users of its Ernie Bot app.",
        "https://technode.com/baidu-launches-ernie-4-5/", NOW - timedelta(hours=9))
    ernie50 = Entry(
        "pandaily-ernie50", "Baidu launches Ernie 5.0",
        "Baidu has launched Ernie 5.0, a natively omni-modal model that handles text, images, "
        "audio and video, and opened it to developers on its Qianfan cloud platform.",
        "https://pandaily.com/baidu-launches-ernie-5-0/", NOW - timedelta(hours=4))
    with newsroom(tmp_path, [("TechNode", "en"), ("Pandaily", "en")]) as d:
        d.publish_to("TechNode", ernie45)
        d.settle([("TechNode", ernie45)])
        d.publish_to("Pandaily", ernie50)
        d.settle([("TechNode", ernie45), ("Pandaily", ernie50)])
        first, second = alerts_for(d, [ernie45]), alerts_for(d, [ernie50])
        assert len(first) == 1 and len(second) == 1, (
            describe(d, "Ernie 4.5 and Ernie 5.0 (two launches)", first + second, 2))
        assert "Pandaily" not in final_text(d, first[0]), (
            f"Ernie 5.0 was merged into Ernie 4.5's alert:\n{final_text(d, first[0])}")
