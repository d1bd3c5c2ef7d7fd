"""`newsbot web`: the store as a read-only site, driven over HTTP and by a real browser.

One `newsbot web` subprocess serves a store built by tests/webstore.py for the whole module;
the browser tests use the system's Chromium (tests/browser.py) and skip without it.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Feed, Hit, Item
from bot.store import NewItem, Store
from tests.browser import Browser, chromium_path
from tests.webstore import (
    RULES,
    SECRET_CHAT,
    SECRET_TEXT,
    SECRET_TITLE,
    Site,
    build_web_store,
    fetch,
    start_web,
    stop,
    web_env,
)

# Words that must never reach a visitor: private tables and columns, the test's secrets.
PRIVATE = ("subscriber", "outbox", "chat_id", "digest", str(SECRET_CHAT), str(SECRET_CHAT)[4:],
           SECRET_TITLE, SECRET_TEXT, "message_id", "telegram_token")
needs_chromium = pytest.mark.skipif(chromium_path() is None,
                                    reason="chromium not installed (make chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("web") / "newsbot.db"
    build_web_store(db)
    running = start_web(db)
    yield running
    stop(running)


def links(html: str) -> list[str]:
    return [urllib.parse.unquote(h).replace("&amp;", "&")
            for h in re.findall(r'href="([^"#]*)"', html)]


def crawl(site: Site, limit: int = 400) -> dict[str, tuple[int, str]]:
    """Every page reachable from the home page (and each page's .json and .csv):
    url → (status, body)."""
    seen: dict[str, tuple[int, str]] = {}
    todo = ["/", "/newsbot", "/newsbot.json"]
    while todo and len(seen) < limit:
        path = todo.pop(0)
        if path in seen:
            continue
        status, kind, body = site.get(urllib.parse.quote(path, safe="/?=&%:_.,-"))
        seen[path] = (status, body)
        if "html" not in kind:
            continue
        for href in links(body):
            href = href.removeprefix(site.url)
            if not href.startswith("/") or href.startswith("/-/static"):
                continue
            todo.append(href)
            base, _, query = href.partition("?")
            if base.startswith("/newsbot/") and not base.endswith((".json", ".csv")):
                todo += [f"{base}.json?{query}", f"{base}.csv?{query}"]
    return seen


# ---------------------------------------------------------------------------- privacy

def test_private_tables_never_appear_in_any_page(site: Site) -> None:
    pages = crawl(site)
    assert len(pages) > 40, sorted(pages)  # the crawl reached the pages, facets and exports
    assert any("/newsbot/story_sources.csv" in p for p in pages)
    assert any("/newsbot/entities.json" in p for p in pages)
    leaks = [(path, word) for path, (_, body) in pages.items() for word in PRIVATE
             if word.lower() in body.lower()]
    assert not leaks, leaks
    broken = [(path, status) for path, (status, _) in pages.items() if status >= 500]
    assert not broken, broken  # and every page works


def test_private_tables_cannot_be_asked_for_directly(site: Site) -> None:
    for table in ("subscribers", "outbox", "alerts", "items", "hits", "feed_state",
                  "items_fts", "_sqlite_migrations"):
        for suffix in ("", ".json", ".csv"):
            status, _, body = site.get(f"/newsbot/{table}{suffix}")
            assert status in (403, 404), (table, suffix, status)
            assert str(SECRET_CHAT) not in body
    assert site.get("/newsbot.db")[0] in (403, 404)  # no download of the whole file


def test_arbitrary_sql_is_refused_and_no_sql_is_shown(site: Site) -> None:
    for path in ("/newsbot?sql=select+chat_id+from+subscribers",
                 "/newsbot.json?sql=select+1", "/newsbot.csv?sql=select+1",
                 "/_memory?sql=select+1"):
        status, _, body = site.get(path)
        assert status in (400, 403, 404), path
        assert str(SECRET_CHAT) not in body
    # _where (a fragment of SQL) is dropped: the page shows what it shows without it
    status, _, body = site.get("/newsbot/story_sources.json?_where=id%3D1&_shape=array")
    assert status == 200 and len(json.loads(body)) > 1
    for path in ("/-/metadata", "/-/metadata.json", "/-/plugins.json", "/-/databases.json"):
        assert site.get(path)[0] == 404, path
    # a search pointed at another table is a plain search of the stories
    status, _, body = site.get("/newsbot/story_sources.json?_search=Baidu&_fts_table=subscribers")
    assert status == 200 and "Ernie" in body
    for path in ("/newsbot/alerts_per_day", "/newsbot/alerts_per_day.json",
                 "/newsbot/feeds?_show_sql=1", "/newsbot/story_sources", "/newsbot.json"):
        body = site.get(path)[2].lower()
        assert not re.search(r"\bfrom\s+\[?(items|hits|stories|feed_state|alerts|outbox)\b",
                             body), path


def test_a_non_loopback_host_needs_a_password(tmp_path: Path) -> None:
    db = tmp_path / "newsbot.db"
    Store(db).close()
    done = subprocess.run([sys.executable, "-m", "bot", "web", "--db", str(db),
                           "--host", "0.0.0.0"], env=web_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert "set NEWSBOT_WEB_PASSWORD" in done.stderr and "0.0.0.0" in done.stderr


def test_a_database_the_web_cannot_show_is_refused_with_the_fix(tmp_path: Path) -> None:
    def web(db: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "web", "--db", str(db)],
                              env=web_env(), capture_output=True, text=True, timeout=60,
                              check=False)

    missing = web(tmp_path / "none.db")
    assert missing.returncode == 1 and "no database at" in missing.stderr
    old = tmp_path / "old.db"
    Store(old).close()
    with sqlite3.connect(old) as conn:  # a database of the version before the web's views
        conn.execute("DROP VIEW story_sources")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_web_views'")
    conn.close()
    done = web(old)
    assert done.returncode == 1 and "restart the bot or run `newsbot poll` once" in done.stderr


def test_with_a_password_nothing_shows_before_the_login(site: Site) -> None:
    locked = start_web(site.db, env=web_env(NEWSBOT_WEB_PASSWORD="correct horse"),
                       host="127.0.0.2")
    try:
        status, _, _ = locked.get("/")
        assert status == 302  # to the login form
        for path in ("/newsbot/story_sources.json", "/newsbot/entities.csv"):
            status, _, body = locked.get(path)
            assert status in (302, 403) and "Zhipu" not in body, path
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        _, _, form = fetch(locked.url + "/-/login", opener)
        token = re.search(r'name="csrftoken" value="([^"]+)"', form).group(1)
        wrong = urllib.parse.urlencode({"username": "admin", "password": "wrong",
                                        "csrftoken": token}).encode()
        assert "Invalid username or password" in fetch(locked.url + "/-/login", opener,
                                                       wrong)[2]
        right = urllib.parse.urlencode({"username": "admin", "password": "correct horse",
                                        "csrftoken": token}).encode()
        fetch(locked.url + "/-/login", opener, right)
        status, _, body = fetch(locked.url + "/newsbot/story_sources.json", opener)
        assert status == 200 and "zhipu" in body.lower()
    finally:
        stop(locked)


def test_the_database_is_never_written_and_checkpoints_go_through(site: Site) -> None:
    files = (site.db, site.db.with_name(site.db.name + "-wal"))

    def contents() -> list[bytes]:  # a WAL a reader finds missing it may create, empty
        return [f.read_bytes() if f.exists() else b"" for f in files]

    before = contents()
    crawl(site, limit=60)  # the site has been busy ...
    assert contents() == before  # ... and wrote nothing: not a page, not a log frame
    store = Store(site.db)  # the bot writes meanwhile: a new matched item
    try:
        now = datetime.now(UTC)
        item = Item(key="late", feed="Late Wire", title="商汤发布日日新大模型", summary="",
                    link="https://late.test/1", published=now, lang="zh")
        store.intake.record_items(Feed("Late Wire", "https://late.test/rss"), [NewItem(
            item, (Hit("sensetime", "llm", "商汤", "title", 0, 2),))], now, backfill=False)
        busy, _, _ = store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0  # no reader of the web holds a snapshot
    finally:
        store.close()
    status, _, body = site.get("/newsbot/story_sources.json?_search=%E5%95%86%E6%B1%A4")
    assert status == 200 and "日日新" in body  # the web sees the bot's new write at once


def test_the_authorizer_refuses_private_reads_and_writes_to_any_sql(site: Site) -> None:
    """Below Datasette: even SQL this site never runs cannot read a chat or write a row."""
    from bot.match.rules import load_watchlists
    from bot.web.catalog import catalog_of
    from bot.web.privacy import prepare

    conn = sqlite3.connect(f"file:{site.db}?mode=ro", uri=True)
    try:
        prepare(conn, catalog_of(load_watchlists(RULES)))
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetchone()[0] == 8
        refused = ["SELECT chat_id FROM outbox", "SELECT * FROM outbox", "SELECT text FROM outbox",
                   "SELECT COUNT(*) FROM subscribers", "SELECT title FROM subscribers",
                   "SELECT * FROM _sqlite_migrations", "INSERT INTO items (id) VALUES (0)",
                   "DELETE FROM hits", "ATTACH DATABASE ':memory:' AS x",
                   "PRAGMA query_only = 0", "CREATE TEMP TABLE t (x)"]
        for sql in refused:
            with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
                conn.execute(sql)
    finally:
        conn.close()


# ---------------------------------------------------------------------------- what it shows

def test_search_finds_chinese_and_english_stories_over_http(site: Site) -> None:
    def titles(query: str) -> set[str]:
        q = urllib.parse.quote(query)
        status, _, body = site.get(f"/newsbot/story_sources.json?_search={q}&_shape=array")
        assert status == 200, body
        return {row["title"] for row in json.loads(body)}

    assert titles("智谱华章") == {"智谱发布GLM-5大模型，性能对标国际一流"}  # 4 characters, summary
    assert titles("智譜") >= {"智谱AI完成新一轮融资"}  # traditional finds simplified
    assert titles("ernie open") == {"Baidu unveils Ernie 5.0, an open source model"}
    assert titles("谱智") == set()


def test_canned_queries_export_csv_and_json(site: Site) -> None:
    status, _, body = site.get("/newsbot/entity_timeline.csv?entity=baidu")
    assert status == 200 and body.startswith("seen,title,link")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["title"] for r in rows} >= {"百度文心一言用户破亿",
                                          "Baidu cuts Ernie prices for developers"}
    assert all(r["link"].startswith("https://") for r in rows)
    yesterday = json.loads(site.get("/newsbot/list_yesterday.json?list=llm&_shape=array")[2])
    assert "Moonshot AI raises $1bn for its Kimi chatbot" in {r["title"] for r in yesterday}
    assert all(r["entities"] for r in yesterday)
    entities = json.loads(site.get("/newsbot/entities.json?_shape=array")[2])
    zhipu = next(e for e in entities if e["id"] == "zhipu")
    assert zhipu["name"] == "Zhipu AI" and zhipu["chinese_name"] == "智谱"
    assert zhipu["stories"] == 2 and "智谱AI" in zhipu["aliases"]  # aliases from rules/
    feeds = json.loads(site.get("/newsbot/feeds.json?_shape=array")[2])
    broken = next(f for f in feeds if f["feed"] == "Broken Wire")
    assert broken["consecutive_errors"] == 3 and broken["last_error"].startswith("HTTP 503")
    assert next(f for f in feeds if f["feed"] == "Caixin")["items"] == 5


def test_every_story_links_to_its_article(site: Site) -> None:
    html = site.get("/newsbot/story_sources")[2]
    assert '<a href="https://scmp.test/ernie5" rel="noreferrer">Baidu unveils Ernie 5.0' in html
    assert "<h1" in html and ">Stories<" in html  # the page's title, not its table name
    facets = html[html.index('class="facet-results"'):html.index("</table>")]
    assert ">Zhipu AI</a>" in facets and ">Chinese LLMs and generative AI</a>" in facets


# ---------------------------------------------------------------------------- the pure parts

def test_a_search_box_becomes_the_bigram_phrases_the_index_holds() -> None:
    from bot.web.privacy import fts_match

    assert fts_match("智谱华章 Ernie") == '"智谱 谱华 华章" AND "ernie"'
    assert fts_match('"open source"') == '"open source"'
    assert fts_match("entity:") == '"entity"'  # a filter of `newsbot search` is just a word here


def test_a_chart_has_a_bar_per_day_and_list_with_a_count_and_zero_days_stay_empty() -> None:
    from bot.web.charts import days_between, stacked_days
    from bot.web.dashboard import per_day_series

    days = days_between(datetime(2026, 3, 1).date(), datetime(2026, 3, 4).date())
    rows = [{"day": "2026-03-01", "list": "llm", "stories": 2},
            {"day": "2026-03-03", "list": "llm", "stories": 1},
            {"day": "2026-03-03", "list": "deepfake", "stories": 4}]
    series = per_day_series(rows, days, "list", "stories")
    assert series == {"llm": [2, 0, 1, 0], "deepfake": [0, 0, 4, 0]}
    svg = stacked_days("Stories per day", days, series)
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', svg)
    assert bars == ["2026-03-01 llm: 2", "2026-03-03 llm: 1", "2026-03-03 deepfake: 4"]
    assert svg.startswith("<svg") and ">5<" in svg  # the axis reaches a round 5


# ---------------------------------------------------------------------------- a real browser

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if chromium_path() is None:
        pytest.skip("chromium not installed (make chromium)")
    with Browser(1280, 900) as b:
        yield b


@needs_chromium
def test_the_dashboard_draws_its_charts_and_a_filter_changes_them(site: Site,
                                                                  browser: Browser) -> None:
    browser.open(site.url + "/")
    assert browser.js("document.title") == "newsbot dashboard"
    assert browser.js("document.querySelectorAll('svg.chart').length") == 3
    bars = browser.js("document.querySelectorAll('#panel-stories_per_day rect.bar').length")
    assert bars >= 10
    rows = browser.js("document.querySelectorAll('#panel-latest_events tbody tr').length")
    assert rows >= 15  # (a test below may add one)
    # the analyst picks a watchlist: the form submits itself and the page shows only that list
    browser.js("(() => { const s = document.querySelector('select[name=list]');"
               " s.value = 'deepfake'; s.dispatchEvent(new Event('change')); })()")
    browser.wait_for_load()
    assert "list=deepfake" in browser.js("location.search")
    titles = browser.js("[...document.querySelectorAll('#panel-latest_events tbody tr a')]"
                        ".map(a => a.textContent).filter(t => !/^[0-9]+$/.test(t))")
    assert titles == ["国家网信办发布深度合成服务算法备案清单"]
    legend = browser.js("document.querySelector('#panel-stories_per_day svg').textContent")
    assert "Deep synthesis" in legend and "Chinese LLMs" not in legend


@needs_chromium
def test_the_browser_search_finds_a_chinese_and_an_english_story(site: Site,
                                                                 browser: Browser) -> None:
    searches = (("智谱", "智谱", "智谱发布GLM-5大模型"),  # (query, in every title, one title)
                ("DeepSeek reasoning", "DeepSeek", "DeepSeek releases V4"))
    for query, every, one in searches:
        browser.open(site.url + "/newsbot/story_sources")
        browser.js(f"(() => {{ const box = document.querySelector('input[name=_search]');"
                   f" box.value = {json.dumps(query)}; box.form.submit(); }})()")
        browser.wait_for_load()
        found = browser.js("[...document.querySelectorAll('td.col-title a')]"
                           ".map(a => a.textContent)")
        assert found and all(every in t for t in found), (query, found)
        assert any(t.startswith(one) for t in found), (query, found)
