"""`newsbot run` without a token, as a subprocess: the schedule, backoff, hot reload, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.feedserver import Route
from tests.test_cli import SIMPLE_RULES, newsbot
from tests.test_pipeline import rss
from tests.test_telegram_e2e import INTERVAL, TICK
from tests.test_telegram_e2e import wait_until as wait_for


class Running:
    """`newsbot run` in a work dir; its stdout and stderr lines collected as they come."""

    def __init__(self, workdir: Path) -> None:
        env = dict(os.environ, PTB_TIMEDELTA="1", PYTHONUNBUFFERED="1", NEWSBOT_TICK=TICK)
        env.pop("TELEGRAM_BOT_TOKEN", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=workdir, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def stdout(self) -> str:
        return "\n".join(self.out)

    def stderr(self) -> str:
        return "\n".join(self.err)

    def wait_for_cycles(self, n: int) -> None:
        """Wait until `n` more poll cycles have ended (each logs "cycle: …" after it printed
        its alerts)."""
        def cycles() -> int:
            return sum(" cycle: " in line for line in list(self.err))

        before = cycles()
        wait_for(lambda: cycles() >= before + n, what=f"{n} more poll cycles")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; returns the exit code and how long the exit took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        took = time.monotonic() - t0
        self._close()
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()


@pytest.fixture
def workdir(tmp_path, feed_server):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "llm.yaml").write_text(SIMPLE_RULES, encoding="utf-8")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts"), etag='"1"')
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: A, url: '{feed_server.url('/a')}', interval: {INTERVAL}, "
        "timeout: 3s}\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def running(workdir):
    started: list[Running] = []

    def start() -> Running:
        bot = Running(workdir)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.kill()


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_new_items_alert_once_and_a_restart_does_not_realert(workdir, feed_server, running):
    bot = running()
    wait_for(lambda: "Qwen 3 tops the charts" in bot.stdout(), what="the backfill alert")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts", "Qwen 4 preview"), etag='"2"')
    wait_for(lambda: "Qwen 4 preview" in bot.stdout(), what="the new item's alert")
    bot.wait_for_cycles(3)  # a few more polls: nothing is printed twice
    assert bot.stdout().count("Qwen 4 preview") == 1
    code, took = bot.stop()
    assert code == 0 and took < 10

    again = running()
    wait_for(lambda: "cycle: 1 feeds" in again.stderr(), what="a cycle after the restart")
    again.wait_for_cycles(2)
    assert again.stdout() == ""


def test_a_failing_feed_backs_off_and_recovers(workdir, feed_server, running):
    feed_server.routes["/a"] = Route(status=503, body=b"down")
    (workdir / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: A, url: '{feed_server.url('/a')}', interval: 0.5s, timeout: 3s}}\n",
        encoding="utf-8")
    seen: list[float] = []
    bot = running()
    for n in (1, 2, 3):
        wait_for(lambda n=n: feed_server.hits.get("/a", 0) >= n, timeout=20, what=f"poll {n}")
        seen.append(time.monotonic())
    first, second = seen[1] - seen[0], seen[2] - seen[1]
    assert 0.8 < first < 1.6 and 1.7 < second < 3.0, (first, second)  # 2×, 4× the interval
    status = json.loads(newsbot("status", "--json", cwd=workdir).stdout)[0]
    assert status["consecutive_errors"] >= 2 and status["last_error"].startswith("HTTP 503")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts"), etag='"1"')
    wait_for(lambda: "Qwen 3 tops the charts" in bot.stdout(), timeout=20, what="recovery")
    status = json.loads(newsbot("status", "--json", cwd=workdir).stdout)[0]
    assert status["consecutive_errors"] == 0 and status["last_ok"]
    code, took = bot.stop()
    assert code == 0 and took < 10


def test_rule_edit_takes_effect_and_a_broken_edit_keeps_the_old_rules(workdir, feed_server, running):
    bot = running()
    wait_for(lambda: "Qwen 3 tops the charts" in bot.stdout(), what="first poll")
    rules = workdir / "rules" / "llm.yaml"
    rules.write_text(SIMPLE_RULES + "  - id: deepseek\n    name: DeepSeek\n    aliases: [DeepSeek]\n",
                     encoding="utf-8")
    touch_later(rules)
    wait_for(lambda: "configuration reloaded" in bot.stderr(), what="the reload")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts", "DeepSeek R2 is out"), etag='"2"')
    wait_for(lambda: "DeepSeek R2 is out" in bot.stdout(), what="an alert for the new entity")

    rules.write_text(SIMPLE_RULES + "  - id: broken\n    aliases: [oops]\n", encoding="utf-8")
    touch_later(rules)
    wait_for(lambda: "llm.yaml:7: entity 'broken': missing `name:`" in bot.stderr(), what="the error")
    assert "last good one keeps running" in bot.stderr()
    feed_server.routes["/a"] = Route(
        body=rss("Qwen 3 tops the charts", "DeepSeek R2 is out", "DeepSeek R3 is out"), etag='"3"')
    wait_for(lambda: "DeepSeek R3 is out" in bot.stdout(), what="old rules still matching")
    code, took = bot.stop()
    assert code == 0 and took < 10


def test_feeds_added_and_removed_take_effect_without_a_restart(workdir, feed_server, running):
    bot = running()
    wait_for(lambda: feed_server.hits.get("/a", 0) >= 1, what="first poll of A")
    feed_server.routes["/b"] = Route(body=rss("Qwen on feed B"))
    (workdir / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: B, url: '{feed_server.url('/b')}', interval: {INTERVAL}, "
        "timeout: 3s}\n", encoding="utf-8")
    touch_later(workdir / "feeds.yaml")
    wait_for(lambda: "Qwen on feed B" in bot.stdout(), what="the new feed polled")
    hits_a, hits_b = feed_server.hits.get("/a", 0), feed_server.hits.get("/b", 0)
    # B, on A's old interval, polled three more times: A would have been polled meanwhile
    wait_for(lambda: feed_server.hits.get("/b", 0) >= hits_b + 3, what="three polls of B")
    assert feed_server.hits.get("/a", 0) == hits_a  # removed: no longer polled
    status = json.loads(newsbot("status", "--json", cwd=workdir).stdout)
    assert [s["name"] for s in status] == ["B"]
    bot.stop()
