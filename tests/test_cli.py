"""The `newsbot` command as a user runs it: a subprocess, real files, a real feed server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedserver import Route
from tests.test_pipeline import rss

REPO = Path(__file__).resolve().parents[1]

SIMPLE_RULES = """\
list: llm
title: Chinese LLMs
entities:
  - id: alibaba
    name: Alibaba
    aliases: [Qwen, 通义千问]
"""


def newsbot(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None):
    full_env = dict(os.environ, PTB_TIMEDELTA="1")
    full_env.pop("TELEGRAM_BOT_TOKEN", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, input=stdin, capture_output=True,
        text=True, env=full_env, timeout=120,
    )


@pytest.fixture
def workdir(tmp_path, feed_server):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "llm.yaml").write_text(SIMPLE_RULES, encoding="utf-8")
    feed_server.routes["/a"] = Route(body=rss("Qwen 3 tops the charts", "Weather today"), etag='"a1"')
    feed_server.routes["/b"] = Route(status=500, body=b"oops")
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        f"  - {{name: Good, url: '{feed_server.url('/a')}', timeout: 5s}}\n"
        f"  - {{name: Broken, url: '{feed_server.url('/b')}', timeout: 5s}}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_check_accepts_the_shipped_configuration():
    result = newsbot("check", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def test_check_reports_file_and_line_and_exits_1(workdir):
    (workdir / "feeds.yaml").write_text("feeds:\n  - {name: X, url: 'gopher://x'}\n", encoding="utf-8")
    result = newsbot("check", cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.strip() == "feeds.yaml:2: 'url' must be an http(s) URL, got 'gopher://x'"


def test_poll_prints_new_matches_exits_0_with_failures_and_summarises(workdir):
    first = newsbot("poll", "--json", cwd=workdir)
    assert first.returncode == 0, first.stderr
    [line] = first.stdout.splitlines()
    alert = json.loads(line)
    assert alert["title"] == "Qwen 3 tops the charts"
    assert alert["entities"] == ["alibaba"] and alert["lists"] == ["llm"]
    assert alert["link"] == "http://news.example/0"  # utm_* removed
    assert {"item_id", "feed", "published", "hits"} <= alert.keys()
    summary = first.stderr.strip().splitlines()[-1]
    assert "2 feeds: 1 ok, 0 not modified, 1 failed; 2 new items, 1 alerts" in summary
    assert "Broken: HTTP 500" in first.stderr

    second = newsbot("poll", cwd=workdir)
    assert second.returncode == 0 and second.stdout == ""
    assert "1 not modified, 1 failed; 0 new items, 0 alerts" in second.stderr


def test_poll_console_output_is_readable(workdir):
    result = newsbot("poll", cwd=workdir)
    assert "[#llm] Alibaba (backfill)" in result.stdout
    assert "  Qwen 3 tops the charts" in result.stdout
    assert "  Good · 2026-11-27 10:00 UTC" in result.stdout


def test_status_and_recent_read_the_store(workdir):
    newsbot("poll", cwd=workdir)
    status = json.loads(newsbot("status", "--json", cwd=workdir).stdout)
    by_name = {row["name"]: row for row in status}
    assert by_name["Good"]["items"] == 2 and by_name["Good"]["consecutive_errors"] == 0
    assert by_name["Broken"]["consecutive_errors"] == 1
    assert by_name["Broken"]["last_error"].startswith("HTTP 500")
    assert {"url", "last_ok", "next_poll"} <= by_name["Good"].keys()
    table = newsbot("status", cwd=workdir).stdout
    assert "FAILING" in table and "HTTP 500" in table
    recent = newsbot("recent", "--json", cwd=workdir).stdout.splitlines()
    assert [json.loads(r)["title"] for r in recent] == ["Qwen 3 tops the charts"]


def test_options_and_env_vars_choose_the_files(workdir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    db = elsewhere / "custom.db"
    result = newsbot("poll", "--db", str(db), cwd=workdir)
    assert result.returncode == 0 and db.exists()
    via_env = newsbot("status", "--json", cwd=elsewhere, env={
        "NEWSBOT_DB": str(db), "NEWSBOT_FEEDS": str(workdir / "feeds.yaml")})
    assert len(json.loads(via_env.stdout)) == 2


def test_match_is_one_line_out_per_line_in(workdir):
    lines = [
        {"id": "1", "title": "Qwen 3 tops the charts", "summary": ""},
        {"id": "2", "title": "Nothing here", "summary": "at all"},
        {"id": "3", "title": "阿里发布通义千问新版本", "summary": ""},
    ]
    result = newsbot("match", cwd=workdir, stdin="".join(json.dumps(x) + "\n" for x in lines))
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert out[0]["entities"] == ["alibaba"] and out[1]["entities"] == []
    assert out[2]["entities"] == ["alibaba"]


def test_status_without_a_database_says_what_to_do(workdir):
    result = newsbot("status", cwd=workdir)
    assert result.returncode == 0 and "newsbot poll" in result.stderr


def test_replay_shows_what_a_rules_change_would_alert(workdir):
    newsbot("poll", cwd=workdir)  # "Qwen 3 tops the charts" alerted, "Weather today" not
    (workdir / "rules" / "llm.yaml").write_text(
        SIMPLE_RULES.replace("aliases: [Qwen, 通义千问]", "aliases: [通义千问]")
        + "  - id: weather\n    name: Weather Inc\n    aliases: [Weather]\n", encoding="utf-8")
    result = newsbot("replay", "--since", "1d", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    changes = {json.loads(line)["title"]: json.loads(line) for line in result.stdout.splitlines()}
    assert changes["Qwen 3 tops the charts"]["change"] == "lost"
    assert changes["Weather today"]["change"] == "new"
    assert changes["Weather today"]["now"] == [["weather", "llm"]]
    assert "1 would newly alert, 1 would no longer alert" in result.stderr


def test_explain_accepts_a_stored_item_id(workdir):
    first = json.loads(newsbot("poll", "--json", cwd=workdir).stdout.splitlines()[0])
    result = newsbot("explain", str(first["item_id"]), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Qwen 3 tops the charts" in result.stdout and "alibaba" in result.stdout
    missing = newsbot("explain", "99999", cwd=workdir)
    assert missing.returncode == 1 and "No stored item with id 99999" in missing.stderr


@pytest.fixture
def one_event_two_feeds(tmp_path, feed_server):
    """One launch reported by an English and a Chinese feed, and an unrelated item."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "llm.yaml").write_text(SIMPLE_RULES, encoding="utf-8")
    feed_server.routes["/en"] = Route(body=rss("Alibaba releases Qwen3 open-weight models",
                                                "Weather today", site="en.example"))
    feed_server.routes["/zh"] = Route(body=rss("阿里巴巴发布通义千问Qwen3系列模型并全部开源",
                                                site="zh.example"))
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        f"  - {{name: English, url: '{feed_server.url('/en')}', timeout: 5s}}\n"
        f"  - {{name: Chinese, url: '{feed_server.url('/zh')}', timeout: 5s}}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_poll_json_prints_every_new_matched_item_with_its_story_and_whether_it_alerted(
        one_event_two_feeds):
    result = newsbot("poll", "--json", cwd=one_event_two_feeds)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["feed"] for line in lines) == ["Chinese", "English"]  # not the weather
    assert len({line["story_id"] for line in lines}) == 1, lines  # one launch, one story
    assert sorted(line["alerted"] for line in lines) == [False, True]
    assert [line["sources"] for line in lines] == [2, 2]  # two feeds carried the story


def test_explain_two_item_ids_says_whether_they_are_one_story_and_why(one_event_two_feeds):
    lines = [json.loads(line) for line in
             newsbot("poll", "--json", cwd=one_event_two_feeds).stdout.splitlines()]
    first, second = (str(line["item_id"]) for line in lines)
    result = newsbot("explain", first, second, cwd=one_event_two_feeds)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "stored as: ONE story" in out
    assert "same happening" in out and "shared subjects: alibaba" in out
    assert "alibaba|3" in out  # the product version both name: Qwen3
    assert "what happened:" in out and "time gap" in out


def test_search_finds_stored_items_and_explains_a_bad_query(workdir):
    newsbot("poll", cwd=workdir)
    found = newsbot("search", "qwen", "--json", cwd=workdir)
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["title"] for line in found.stdout.splitlines()] == [
        "Qwen 3 tops the charts"]
    bad = newsbot("search", "qwen", "since:later", cwd=workdir)
    assert bad.returncode == 2 and "since:30d" in bad.stderr


def test_export_writes_csv_for_spreadsheets_and_says_how_many(workdir):
    newsbot("poll", cwd=workdir)
    out = workdir / "stories.csv"
    result = newsbot("export", "--since", "3650d", "--bom", "-o", str(out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "1 stories since" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\ufeffstory_id,") and "Qwen 3 tops the charts" in text
    jsonl = newsbot("export", "--since", "3650d", "--format", "jsonl", cwd=workdir)
    assert json.loads(jsonl.stdout)["entities"] == ["alibaba"]
    empty = newsbot("export", "--entity", "nobody", cwd=workdir)
    assert empty.returncode == 0 and "0 stories since" in empty.stderr
    bad = newsbot("export", "--since", "soon", cwd=workdir)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_trends_print_the_figures_and_say_when_a_period_is_empty(workdir):
    newsbot("poll", cwd=workdir)
    text = newsbot("trends", "--since", "7d", cwd=workdir)
    assert text.returncode == 0, text.stderr
    assert "Alibaba 1 story, +1" in text.stdout
    data = json.loads(newsbot("trends", "--since", "7d", "--json", cwd=workdir).stdout)
    assert data["series"][0]["entity"] == "alibaba" and sum(data["series"][0]["counts"]) == 1
    empty = newsbot("trends", "--entity", "zhipu", cwd=workdir)
    assert empty.returncode == 0 and "No stories in the last 30 days for zhipu" in empty.stderr
    assert empty.stdout == ""


def test_trends_draw_a_png_chart(workdir):
    newsbot("poll", cwd=workdir)
    chart = workdir / "trend.png"
    result = newsbot("trends", "--since", "7d", "--png", str(chart), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "chart written" in result.stderr


def test_common_options_work_before_and_after_the_command(workdir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("before")
    before, after = elsewhere / "before.db", elsewhere / "after.db"
    assert newsbot("--db", str(before), "poll", cwd=workdir).returncode == 0
    assert before.exists() and not (workdir / "data" / "newsbot.db").exists()
    assert newsbot("poll", "--db", str(after), cwd=workdir).returncode == 0 and after.exists()
    # after the command wins over before it, as a later option does
    none = elsewhere / "none.db"
    status = newsbot("--db", str(none), "status", "--json", "--db", str(before), cwd=workdir)
    assert json.loads(status.stdout)[0]["items"] == 2
    status = newsbot("--db", str(before), "status", "--json", "--db", str(none), cwd=workdir)
    assert json.loads(status.stdout) == [] and "No database" in status.stderr
