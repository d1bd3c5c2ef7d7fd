"""End to end: `newsbot run` as a subprocess against the fake Bot API and a local feed server.

A user talks to the bot through the fake (getUpdates long polling); feeds change on the feed
server; we check what the fake received: replies, alerts, retries, and what a kill -9 costs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.fake_telegram import FakeTelegram, SentMessage
from tests.feedserver import FeedServer, Route

REPO = Path(__file__).resolve().parents[1]
ADMIN = 999
# The bot's clock in these tests: it looks every 0.1 s (NEWSBOT_TICK) and polls the feeds
# every 0.25 s, so a test waits for what it checks rather than for the next whole second.
TICK = "0.1"
INTERVAL = "0.25s"
MATCH = "Baidu releases Ernie 4.5, a new large language model"


def rss(items: list[tuple[str, str]]) -> bytes:
    """An RSS body; items are (guid, title)."""
    entries = "".join(
        f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>https://news.test/{escape(g)}</link>"
        f"<description>{escape(t)} &amp; more &lt;b&gt;news&lt;/b&gt;</description>"
        f"<pubDate>Sat, 01 Mar 2025 12:00:00 GMT</pubDate></item>"
        for g, t in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local Tech</title>'
            f"<link>https://news.test/</link><description>t</description>{entries}"
            f"</channel></rss>").encode()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


@dataclass
class Deployment:
    """A fake Telegram, a feed server, config files and the `newsbot run` process."""

    root: Path
    fake: FakeTelegram
    feeds: FeedServer
    items: list[tuple[str, str]] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    def publish(self, guid: str, title: str) -> None:
        self.items.insert(0, (guid, title))
        self.feeds.routes["/feed.xml"] = Route(body=rss(self.items))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
        env.update({
            "TELEGRAM_BOT_TOKEN": self.fake.token, "TELEGRAM_API_URL": self.fake.url,
            "NEWSBOT_DB": str(self.root / "newsbot.db"),
            "NEWSBOT_FEEDS": str(self.root / "feeds.yaml"),
            "NEWSBOT_RULES": str(REPO / "rules"), "NEWSBOT_ADMINS": str(ADMIN),
            "NEWSBOT_LOG_LEVEL": "DEBUG", "PTB_TIMEDELTA": "1", "PYTHONUNBUFFERED": "1",
            "NEWSBOT_TICK": TICK,
        })
        return env

    def start(self) -> None:
        """Start `newsbot run` and wait until it long-polls for updates."""
        polls_before = sum(1 for c in self.fake.calls if c.method == "getUpdates")
        self.runs += 1
        log = open(self.root / f"run{self.runs}.log", "wb")  # noqa: SIM115 - closed by the child's exit
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=self.root,
                                     env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: sum(1 for c in self.fake.calls if c.method == "getUpdates") > polls_before
                   or self.proc.poll() is not None, 30, "the bot to start polling")
        assert self.proc.poll() is None, self.logs()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.proc = None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("run*.log")))

    def say(self, chat_id: int, text: str, **kwargs: object) -> SentMessage:
        """Send a message as a user and return the bot's reply to that chat."""
        before = len(self.fake.messages_to(chat_id))
        self.fake.user_sends(chat_id, text, **kwargs)  # type: ignore[arg-type]
        return self.fake.wait_for_messages(chat_id, before + 1, timeout=10)[before]

    # -- the bot's database, read-only: markers that it got past a point, to wait on
    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]] | None:
        """Rows of a query, or None while the database is not there yet or busy."""
        try:
            con = sqlite3.connect(f"file:{self.root / 'newsbot.db'}?mode=ro", uri=True, timeout=2)
        except sqlite3.OperationalError:
            return None
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not created yet, or busy: ask again
            return None
        finally:
            con.close()

    def polls(self) -> dict[str, int]:
        """Polls recorded per feed. A poll is recorded in the transaction that stores its
        items and queues their alerts: a count that moved means that poll is done."""
        return {str(feed): int(n)  # type: ignore[call-overload]
                for feed, n in self.query("SELECT feed, polls FROM feed_state") or []}

    def wait_for_polls(self, n: int, feeds: Iterable[str] | None = None,
                       timeout: float = 20.0) -> None:
        """Wait until each feed (default: each polled so far) has `n` more polls recorded.
        n=2 takes a poll that started after this call: one in flight may have read older
        content."""
        before = self.polls()
        names = list(before if feeds is None else feeds)
        assert names, "no feed polled yet"
        wait_until(lambda: all(self.polls().get(f, 0) >= before.get(f, 0) + n for f in names),
                   timeout, f"{n} more polls of {names}")

    def pending(self, chat_id: int | None = None, within: float = 0.0) -> int | None:
        """Deliveries (to `chat_id`, or any chat) still pending and due within `within`
        seconds; None while the database cannot be read."""
        rows = self.query("SELECT chat_id, next_try FROM outbox WHERE state = 'pending'")
        if rows is None:
            return None
        horizon = datetime.now(UTC) + timedelta(seconds=within)
        return sum(1 for chat, next_try in rows if chat_id in (None, chat)
                   and datetime.fromisoformat(str(next_try)) <= horizon)

    def wait_until_delivered(self, chat_id: int | None = None, timeout: float = 20.0) -> None:
        """Wait until the delivery worker has nothing due (to `chat_id`, or any chat): a row
        stays pending until Telegram accepted its message, so the fake has them all."""
        wait_until(lambda: self.pending(chat_id) == 0, timeout, "the outbox to drain")


@contextmanager
def running(root: Path, kind: type[Deployment] = Deployment, timeout: str = "5s",
            interval: str = INTERVAL) -> Iterator[Deployment]:
    """`newsbot run` started against a fake Telegram and one feed polled every `interval`."""
    with FakeTelegram() as fake, FeedServer() as feeds:
        d = kind(root, fake, feeds)
        d.publish("w1", "Weather today: sunny")
        (root / "feeds.yaml").write_text(
            f"defaults: {{interval: {interval}, timeout: {timeout}}}\n"
            f"feeds:\n  - {{name: Local Tech, url: \"{feeds.url('/feed.xml')}\", lang: en}}\n")
        d.start()
        wait_until(lambda: feeds.hits.get("/feed.xml", 0) >= 1, what="the first poll")
        yield d
        if d.proc is not None:
            d.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with running(tmp_path_factory.mktemp("e2e")) as d:
        yield d
    assert d.fake.token not in d.logs()


def alerts_to(d: Deployment, chat_id: int, title: str) -> list[SentMessage]:
    return [m for m in d.fake.messages_to(chat_id) if title in m.plain]


# ---------------------------------------------------------------------------- the main path

def test_start_then_a_matching_item_is_alerted_once(deployment: Deployment) -> None:
    d = deployment
    assert [c["command"] for c in d.fake.commands][:3] == ["start", "stop", "recent"]
    reply = d.say(101, "/start")
    assert "Subscribed" in reply.plain and "/follow" in reply.plain
    d.publish("m1", MATCH)
    d.fake.wait_for(lambda sent: any(m.chat_id == 101 and "Ernie" in m.text for m in sent), 15)
    [alert] = alerts_to(d, 101, "Ernie 4.5")
    assert alert.parse_mode == "HTML"
    assert alert.text.startswith("#llm")
    assert '<a href="https://news.test/m1"><b>Baidu</b> releases' in alert.text
    assert "&amp; more news" in alert.text  # feed text escaped
    d.wait_for_polls(2)  # two more poll cycles ...
    d.wait_until_delivered()  # ... and what they queued sent: still exactly one alert
    assert len(alerts_to(d, 101, "Ernie 4.5")) == 1


def test_recent_search_status_and_bad_arguments(deployment: Deployment) -> None:
    d = deployment
    wait_until(lambda: any("Ernie" in m.text for m in d.fake.sent), what="an alert")
    recent = d.say(102, "/recent")
    assert recent.plain.startswith("Latest 1 matched item") and "Ernie 4.5" in recent.plain
    assert "Ernie 4.5" in d.say(102, "/recent 3 llm").plain
    assert "for baidu" in d.say(102, "/recent Baidu").plain
    assert d.say(102, "/recent 1 2").plain.startswith("Usage: /recent")
    assert "Unknown list or entity" in d.say(102, "/recent nosuchlist").plain
    assert "Ernie" in d.say(102, "/search ernie model").plain
    assert d.say(102, "/search").plain.startswith("Usage: /search")
    status = d.say(102, "/status").plain
    assert "1 feeds: 1 ok, 0 failing" in status and "Last cycle: 20" in status
    assert "See /help" in d.say(102, "/frobnicate").plain
    assert "/recent" in d.say(102, "/help").plain


def test_lists_follow_and_unfollow(deployment: Deployment) -> None:
    d = deployment
    lists = d.say(103, "/lists")
    assert "deepfake" in lists.plain and "page 1/" in lists.plain
    assert ("Follow deepfake", "follow:deepfake:0") in lists.buttons()
    assert ("Next ▶", "lists:1") in lists.buttons()
    assert "send /start first" in d.say(103, "/follow llm").plain
    d.say(103, "/start")
    assert "Now following: deepfake" in d.say(103, "/follow deepfake").plain
    assert d.say(103, "/follow").plain.startswith("Usage: /follow")
    # An llm item no longer reaches 103, but still reaches 101 (follows everything).
    d.publish("m2", "iFlytek unveils Spark chatbot upgrade")
    d.fake.wait_for(lambda sent: any(m.chat_id == 101 and "Spark" in m.text for m in sent), 15)
    d.wait_until_delivered(103)  # the poll that alerted 101 queued 103's alert, if any, too
    assert alerts_to(d, 103, "Spark") == []
    # Unfollowing the only follow goes back to everything; pressing a button edits /lists.
    assert "receives every alert again" in d.say(103, "/unfollow deepfake").plain
    lists = d.say(103, "/lists")
    d.fake.user_clicks(103, lists.message_id, "follow:deepfake:0")
    d.fake.wait_for(lambda sent: any(m.method == "editMessageText" and m.chat_id == 103
                                     for m in sent), 10)
    edited = [m for m in d.fake.sent if m.method == "editMessageText" and m.chat_id == 103][-1]
    assert ("✓ Unfollow deepfake", "unfollow:deepfake:0") in edited.buttons()
    assert "You follow: deepfake" in edited.plain
    assert "Now following: deepfake" in d.fake.callback_answers[-1]["text"]
    d.fake.user_clicks(103, lists.message_id, "lists:1")
    d.fake.wait_for(lambda sent: sum(1 for m in sent if m.method == "editMessageText"
                                     and m.chat_id == 103) >= 2, 10)
    assert "page 2/" in d.fake.sent[-1].plain


def test_admin_commands_refuse_others_and_work_for_admins(deployment: Deployment) -> None:
    d = deployment
    assert "admins only" in d.say(104, "/stats").plain
    assert "admins only" in d.say(104, "/reload").plain
    stats = d.say(ADMIN, "/stats").plain
    assert "Subscribers:" in stats and "deliveries sent" in stats
    reloaded = d.say(ADMIN, "/reload").plain
    assert reloaded.startswith("Reloaded: 1 feeds") and "Nothing changed" in reloaded


def test_trends_replies_with_a_png_chart_and_its_figures(deployment: Deployment) -> None:
    from bot.render.chart import HEIGHT, WIDTH, png_size

    d = deployment
    wait_until(lambda: any("Ernie" in m.text for m in d.fake.sent), what="an alert")
    d.fake.user_sends(103, "/trends 7d")
    d.fake.wait_for(lambda sent: any(m.chat_id == 103 and m.method == "sendPhoto"
                                     for m in sent), 20)
    [photo] = [m for m in d.fake.sent if m.chat_id == 103 and m.method == "sendPhoto"]
    assert photo.method == "sendPhoto" and photo.photo is not None
    assert png_size(photo.photo) == (WIDTH, HEIGHT)
    assert "Last 7 days" in photo.text and "Baidu 1 story, +1" in photo.text
    assert "No stories in the last 30 days for zhipu" in d.say(103, "/trends zhipu").plain
    assert d.say(103, "/trends 900d").plain.startswith("900d: a period from 1d to 365d")
    assert "not a period, list or entity" in d.say(103, "/trends soon").plain


def test_groups_and_channels_can_subscribe(deployment: Deployment) -> None:
    d = deployment
    d.fake.set_chat(-1001, "supergroup", title="AI watchers", admins=[5])
    group = d.say(-1001, "/start@newsbot_test_bot", user_id=5, kind="supergroup", title="AI watchers")
    assert "Subscribed" in group.plain
    channel = d.say(-1002, "/start", kind="channel", title="AI channel")
    assert "Subscribed" in channel.plain
    d.publish("m3", "Moonshot AI launches Kimi K2 open weights model")
    d.fake.wait_for(lambda sent: all(any(m.chat_id == c and "Kimi" in m.plain for m in sent)
                                     for c in (-1001, -1002)), 15)
    # Another bot's command, or a bare unknown one in a group, gets no answer; ours does.
    d.fake.user_sends(-1001, "/weather@other_bot", user_id=5, kind="supergroup")
    d.fake.user_sends(-1001, "/weather", user_id=5, kind="supergroup")
    reply = d.say(-1001, "/weather@newsbot_test_bot", user_id=5, kind="supergroup")
    assert "Unknown command /weather@newsbot_test_bot. See /help." in reply.plain
    assert sum("Unknown command" in m.plain for m in d.fake.messages_to(-1001)) == 1


def test_429_403_and_400_during_delivery(deployment: Deployment) -> None:
    d = deployment
    for chat in (201, 202, 203, 204):
        d.say(chat, "/start")
    d.fake.fail("sendMessage", kind="429", chat_id=201, retry_after=1)
    d.fake.fail("sendMessage", kind="403", chat_id=202)
    d.fake.fail("sendMessage", kind="400_parse", chat_id=203)
    d.publish("m4", "DeepSeek releases R2 reasoning model")
    d.fake.wait_for(lambda sent: all(any(m.chat_id == c and "R2" in m.plain for m in sent)
                                     for c in (201, 203, 204)), 15)
    assert [m.parse_mode for m in alerts_to(d, 203, "R2")] == [None]  # plain text fallback
    assert len(alerts_to(d, 201, "R2")) == 1  # delivered once, after the wait
    wait_until(lambda: any(c.status == 403 for c in d.fake.calls), what="the 403")
    assert alerts_to(d, 202, "R2") == []
    # 202 blocked the bot: it is deactivated and gets nothing more.
    d.publish("m5", "Zhipu AI GLM-5 model released")
    d.fake.wait_for(lambda sent: any(m.chat_id == 204 and "GLM" in m.plain for m in sent), 15)
    assert [m for m in d.fake.messages_to(202) if "GLM" in m.plain] == []
    assert sum(1 for c in d.fake.calls if c.params.get("chat_id") == "202") == 1 + 1  # /start, 403


def test_a_reply_lost_to_a_bad_gateway_is_sent_again(deployment: Deployment) -> None:
    """A command's answer is not in the outbox: a transient failure must not swallow it."""
    deployment.fake.fail("sendMessage", kind="502", chat_id=778, times=2)
    assert deployment.say(778, "/help").plain.startswith("newsbot — alerts on China's")


def test_a_broken_config_edit_is_reported_to_admins_through_the_outbox(
        deployment: Deployment) -> None:
    d = deployment
    feeds = d.root / "feeds.yaml"
    good = feeds.read_text()
    before = len(d.fake.messages_to(ADMIN))
    feeds.write_text(good + "  - {name: Broken feed}\n")  # no url
    try:
        notice = d.fake.wait_for_messages(ADMIN, before + 1, timeout=15)[before]
    finally:
        feeds.write_text(good)
    assert "feeds.yaml:4" in notice.plain
    assert d.say(102, "/status").plain.startswith("Feed status")  # still running


def test_sigterm_stops_cleanly(deployment: Deployment) -> None:
    d = deployment
    assert d.stop(signal.SIGTERM) == 0
    assert "newsbot stopped" in d.logs()
    assert d.fake.token not in d.logs()


# ---------------------------------------------------------------------------- kill -9

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_stop_during_a_fanout_to_50_chats_loses_nothing(tmp_path: Path, sig: int) -> None:
    """kill -9 may repeat only the messages in flight; SIGTERM finishes them: no repeat."""
    chats = list(range(5001, 5051))
    with FakeTelegram() as fake, FeedServer() as feeds:
        d = Deployment(tmp_path, fake, feeds)
        try:
            d.publish("w1", "Weather today: sunny")
            (tmp_path / "feeds.yaml").write_text(
                f"defaults: {{interval: {INTERVAL}, timeout: 5s}}\n"
                f"feeds:\n  - {{name: Local Tech, url: \"{feeds.url('/feed.xml')}\"}}\n")
            d.start()
            wait_until(lambda: feeds.hits.get("/feed.xml", 0) >= 1, what="the first poll")
            for chat in chats:
                fake.user_sends(chat, "/start")
            fake.wait_for(lambda sent: all(any(m.chat_id == c for m in sent) for c in chats), 20)

            def alerts() -> list[SentMessage]:
                return [m for m in fake.sent if "Ernie" in m.text and m.chat_id in chats]

            d.publish("m1", MATCH)
            wait_until(lambda: len(alerts()) >= 15, 20, "the fan-out to start")
            assert d.proc is not None
            t0 = time.monotonic()
            d.proc.send_signal(sig)  # mid fan-out
            code = d.proc.wait(timeout=20)
            took = time.monotonic() - t0
            d.proc = None
            at_kill = len(alerts())
            if sig == signal.SIGTERM:
                assert code == 0 and took < 10, (code, took)
            assert at_kill < len(chats), "the fan-out finished before the kill; nothing was tested"
            d.start()
            wait_until(lambda: {m.chat_id for m in alerts()} == set(chats), 30, "every chat's alert")
            d.wait_until_delivered()  # the repeats, if any, are sent too
            d.stop()
            per_chat = {c: sum(1 for m in alerts() if m.chat_id == c) for c in chats}
            repeats = sum(n - 1 for n in per_chat.values())
            assert min(per_chat.values()) == 1
            # kill -9: at most DeliveryLimits.max_in_flight; SIGTERM lets those finish and marks them
            assert repeats <= (8 if sig == signal.SIGKILL else 0)
            print(f"signal {sig} after {at_kill} of 50 alerts; repeats after restart: {repeats}")
        finally:  # a failed assertion must not leave a bot running after the test
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()


def test_a_rejected_token_stops_run_with_a_clear_message(tmp_path: Path) -> None:
    with FakeTelegram(token="42:the-right-token-xxxxxxxxxxxxxxxx") as fake, FeedServer() as feeds:
        d = Deployment(tmp_path, fake, feeds)
        (tmp_path / "feeds.yaml").write_text(
            f"feeds:\n  - {{name: Local Tech, url: \"{feeds.url('/feed.xml')}\"}}\n")
        env = d.env() | {"TELEGRAM_BOT_TOKEN": "42:a-wrong-token-yyyyyyyyyyyyyyyyyyy"}
        done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "rejected TELEGRAM_BOT_TOKEN" in done.stderr
    assert "a-wrong-token" not in done.stderr + done.stdout
