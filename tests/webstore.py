"""A store with two weeks of stories, subscribers and deliveries, for the web's tests and the
README's screenshots: real intake (stories, alerts, outbox rows) and real matching against
the project's rules/, times relative to now so "this week" and the period filters mean it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.match.matching import match_item
from bot.match.rules import load_watchlists
from bot.models import Feed, FetchResult, Item
from bot.store import NewItem, Store

RULES = Path(__file__).resolve().parents[1] / "rules"
# A chat id and a group title that must never reach a page: the privacy tests look for them.
SECRET_CHAT = -1001234567891
SECRET_TITLE = "Private analysts group"
SECRET_TEXT = "admin notice: do not show"

# (days ago, hours, feed, key, title, summary, language, link). Items with the same link in
# several feeds are one story with several sources.
STORIES = [
    (0, 2, "Caixin", "c1", "智谱发布GLM-5大模型，性能对标国际一流", "北京智谱华章科技今日宣布开源新模型。", "zh",
     "https://caixin.test/glm5"),
    (0, 3, "36Kr", "k1", "智谱发布GLM-5大模型，性能对标国际一流", "智谱华章发布新一代模型。", "zh",
     "https://caixin.test/glm5"),
    (0, 5, "SCMP Tech", "s1", "Baidu unveils Ernie 5.0, an open source model",
     "Search giant Baidu released Ernie 5.0 under an open licence.", "en",
     "https://scmp.test/ernie5"),
    (0, 6, "Reuters China", "r1", "Baidu unveils Ernie 5.0, an open source model",
     "Baidu said Ernie 5.0 beats rivals.", "en", "https://scmp.test/ernie5"),
    (1, 4, "SCMP Tech", "s2", "Moonshot AI raises $1bn for its Kimi chatbot",
     "Moonshot AI, maker of Kimi, closed a new round.", "en", "https://scmp.test/kimi"),
    (1, 8, "36Kr", "k2", "月之暗面Kimi发布新版本", "月之暗面推出Kimi新功能。", "zh", "https://36kr.test/kimi"),
    (2, 9, "Caixin", "c2", "阿里巴巴通义千问Qwen3发布", "阿里云发布通义千问新模型。", "zh",
     "https://caixin.test/qwen3"),
    (3, 7, "Reuters China", "r2", "DeepSeek releases V4 reasoning model",
     "Hangzhou-based DeepSeek published the weights of V4.", "en", "https://reuters.test/ds4"),
    (3, 9, "SCMP Tech", "s3", "DeepSeek releases V4 reasoning model",
     "DeepSeek V4 is out.", "en", "https://reuters.test/ds4"),
    (3, 10, "36Kr", "k3", "DeepSeek releases V4 reasoning model", "深度求索发布V4。", "zh",
     "https://reuters.test/ds4"),
    (4, 6, "Caixin", "c3", "字节跳动豆包大模型降价", "字节跳动旗下豆包大模型宣布降价。", "zh",
     "https://caixin.test/doubao"),
    (5, 11, "SCMP Tech", "s4", "SenseTime shows SenseNova 6 at its tech day",
     "SenseTime unveiled SenseNova 6.", "en", "https://scmp.test/sensenova"),
    (6, 3, "Reuters China", "r3", "Tencent Hunyuan model tops Chinese benchmark",
     "Tencent said its Hunyuan model leads.", "en", "https://reuters.test/hunyuan"),
    (8, 5, "Caixin", "c4", "智谱AI完成新一轮融资", "智谱AI宣布完成新一轮融资。", "zh", "https://caixin.test/zhipu-round"),
    (9, 6, "SCMP Tech", "s5", "Baidu cuts Ernie prices for developers",
     "Baidu lowered the price of its Ernie API.", "en", "https://scmp.test/ernie-price"),
    (10, 9, "36Kr", "k4", "百度文心一言用户破亿", "百度宣布文心一言用户数。", "zh", "https://36kr.test/ernie-users"),
    (11, 4, "Reuters China", "r4", "Alibaba's Qwen tops open model downloads",
     "Alibaba Cloud said Qwen models were downloaded most.", "en", "https://reuters.test/qwen"),
    (12, 8, "Caixin", "c5", "国家网信办发布深度合成服务算法备案清单",
     "国家互联网信息办公室公布新一批深度合成服务算法备案信息，百度、科大讯飞在列。", "zh",
     "https://caixin.test/cac-filing"),
    (13, 2, "SCMP Tech", "s6", "iFlytek Spark model update targets education",
     "iFlytek upgraded its Spark model.", "en", "https://scmp.test/spark"),
]


def build_web_store(path: Path, now: datetime | None = None) -> None:
    """Fill a store at `path`."""
    now = now or datetime.now(UTC)
    watchlists = load_watchlists(RULES)
    store = Store(path)
    try:
        store.subscribers.subscribe(SECRET_CHAT, "supergroup", SECRET_TITLE, now - timedelta(days=20))
        feeds = {}
        for ago, hours, feed, key, title, summary, lang, link in STORIES:
            at = (now - timedelta(days=ago)).replace(hour=hours, minute=0, second=0,
                                                     microsecond=0)
            at = min(at, now - timedelta(minutes=5))
            item = Item(key=key, feed=feed, title=title, summary=summary, link=link,
                        published=at, lang=lang)
            hits = tuple(match_item(title, summary, watchlists))
            feeds[feed] = Feed(feed, f"https://{feed.lower().replace(' ', '')}.test/rss")
            store.intake.record_items(feeds[feed], [NewItem(item, hits)], at, backfill=False)
            store.feeds.record_fetch(feeds[feed], FetchResult("ok", feeds[feed].url), at)
        for job in store.outbox.due(now + timedelta(days=1), 1000)[:8]:
            store.outbox.mark_sent(job.id, 4242, now - timedelta(hours=1))
        store.outbox.enqueue_notice([SECRET_CHAT], SECRET_TEXT, now)
        broken = Feed("Broken Wire", "https://broken.test/rss")
        for n in (3, 2, 1):
            store.feeds.record_fetch(broken, FetchResult("error", broken.url, error="HTTP 503"),
                                     now - timedelta(hours=n), error="HTTP 503 from broken.test")
    finally:
        store.close()


# ---------------------------------------------------------------------------- `newsbot web`

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
    return env | {"PTB_TIMEDELTA": "1", "NEWSBOT_RULES": str(RULES), "PORT": ""} | extra


@dataclass
class Site:
    """A running `newsbot web` and its database."""

    url: str
    db: Path
    proc: subprocess.Popen[bytes]

    def get(self, path: str, **kwargs: object) -> tuple[int, str, str]:
        """(status, content type, body) of a GET."""
        return fetch(self.url + path, **kwargs)


def fetch(url: str, opener: urllib.request.OpenerDirector | None = None,
          data: bytes | None = None) -> tuple[int, str, str]:
    try:
        with (opener or urllib.request.build_opener(NoRedirect)).open(url, data=data,
                                                                      timeout=30) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def start_web(db: Path, *args: str, env: dict[str, str] | None = None,
              host: str = "127.0.0.1") -> Site:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "web", "--db", str(db), "--host", host,
                             "--port", str(port), *args], env=env or web_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"newsbot web exited: {proc.stderr.read().decode()}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return Site(url, db, proc)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("newsbot web did not start listening in 60 s")


def stop(site: Site) -> None:
    site.proc.terminate()
    try:
        site.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        site.proc.kill()
        site.proc.wait()
    site.proc.stderr.close()


