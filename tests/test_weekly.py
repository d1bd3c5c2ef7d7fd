"""The weekly brief: when it is due, what it counts, how it reads, and that a week is
briefed once. Pure parts with a clock passed in; the store on a real SQLite file."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.match.rules import load_watchlists
from bot.models import Feed, Hit, Item
from bot.render.chart import png_size
from bot.render.text import tg_len
from bot.render.trends import build_trend
from bot.render.weekly import CAPTION_CHARS, WeeklyBrief, render_weekly
from bot.run.weekly import draw_brief, gather_brief, send_weeklies
from bot.schedule import brief_period, parse_weekday, week_label, weekly_moment
from bot.store import NewItem, Store
from bot.store.weekly import TopStory
from bot.telegram.weekly import WeeklyArgs, apply_weekly, describe_weekly, parse_weekly_args
from tests.test_telegram_e2e import REPO

# Monday 7 December 2026, 09:00 in Shanghai is 01:00 UTC.
MONDAY_9_SHANGHAI = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
ZHIPU = Hit("zhipu", "llm", "智谱", "title", 0, 2)
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)
MINIMAX = Hit("minimax", "llm", "MiniMax", "title", 0, 7)
FILER = Hit("sensetime", "deepfake", "SenseTime", "title", 0, 9)


# ---------------------------------------------------------------------------- when

@pytest.mark.parametrize(("word", "day"), [
    ("Mon", 0), ("monday", 0), ("TUES", 1), ("thu", 3), ("Sunday", 6), ("周一", 0),
    ("星期日", 6), ("礼拜天", 6), ("周六", 5), ("mo", -1), ("fun", -1), ("周八", -1), ("", -1)])
def test_a_weekday_is_read_in_english_or_chinese(word: str, day: int) -> None:
    assert parse_weekday(word) == day


def test_the_weekly_moment_is_the_latest_one_at_or_before_now() -> None:
    friday = datetime(2026, 12, 4, 8, 31, tzinfo=UTC)
    assert weekly_moment(0, "09:00", "Asia/Shanghai", friday) == datetime(2026, 11, 30, 1, 0,
                                                                          tzinfo=UTC)
    # Friday 16:31 in Shanghai is now: due now; a minute later is last week's.
    assert weekly_moment(4, "16:31", "Asia/Shanghai", friday) == friday
    assert weekly_moment(4, "16:32", "Asia/Shanghai", friday) == friday - timedelta(days=7,
                                                                                   minutes=-1)
    assert weekly_moment(0, "25:00", "UTC", friday) is None
    assert weekly_moment(7, "09:00", "UTC", friday) is None


def test_a_dst_change_keeps_the_local_time_and_the_week_whole() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026: Monday 09:00 is 07:00 UTC before
    # and 08:00 UTC after.
    before = weekly_moment(0, "09:00", "Europe/Berlin", datetime(2026, 10, 20, tzinfo=UTC))
    after = weekly_moment(0, "09:00", "Europe/Berlin", datetime(2026, 10, 27, tzinfo=UTC))
    assert (before.hour, after.hour) == (7, 8)
    since, until = brief_period(after, "Europe/Berlin")
    assert until - since == timedelta(hours=169)  # the week had an hour more
    assert week_label(before, "Europe/Berlin") == "2026-W43"
    assert week_label(after, "Europe/Berlin") == "2026-W44"


def test_the_brief_covers_the_seven_local_days_before_its_day() -> None:
    since, until = brief_period(MONDAY_9_SHANGHAI, "Asia/Shanghai")
    assert since == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Mon 30 Nov 00:00 Shanghai
    assert until == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # Mon 7 Dec 00:00 Shanghai


# ---------------------------------------------------------------------------- the command

@pytest.mark.parametrize(("args", "wanted"), [
    ([], WeeklyArgs("show")),
    (["off"], WeeklyArgs("off")),
    (["ON"], WeeklyArgs("on")),
    (["on", "Mon", "09:00"], WeeklyArgs("on", 0, "09:00")),
    (["on", "fri", "7:30", "Asia/Shanghai"], WeeklyArgs("on", 4, "07:30", "Asia/Shanghai")),
    (["on", "18:00"], WeeklyArgs("on", None, "18:00")),
    (["on", "周五", "UTC"], WeeklyArgs("on", 4, None, "UTC")),
])
def test_weekly_arguments(args: list[str], wanted: WeeklyArgs) -> None:
    assert parse_weekly_args(args) == wanted


@pytest.mark.parametrize("args", [["weekly"], ["off", "now"], ["on", "25:00"],
                                  ["on", "09:00", "Mon"], ["on", "Mon", "Tue"],
                                  ["on", "Mon", "09:00", "Asia/Shanghai", "x"],
                                  ["on", "Asia/Shanghai", "Mon"]])
def test_malformed_weekly_arguments_are_refused(args: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_weekly_args(args)


def test_switching_on_keeps_what_is_not_said_and_says_when_the_next_brief_comes(
        store: Store) -> None:
    now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # a Friday
    assert apply_weekly(store, 5, WeeklyArgs("on"), None, now).endswith("send /start first.")
    store.subscribers.subscribe(5, "private", None, now)
    assert apply_weekly(store, 5, WeeklyArgs("show"), None, now).startswith("No weekly brief.")
    on = apply_weekly(store, 5, WeeklyArgs("on"), None, now)
    assert on.startswith("Weekly brief: every Mon at 09:00 (UTC), the next on Mon 07 Dec")
    later = apply_weekly(store, 5, WeeklyArgs("on", None, "18:30"), "Asia/Shanghai", now)
    assert later.startswith("Weekly brief: every Mon at 18:30 (Asia/Shanghai)")
    assert apply_weekly(store, 5, WeeklyArgs("show"), None, now) == later
    assert apply_weekly(store, 5, WeeklyArgs("off"), None, now).startswith("Weekly brief off.")
    assert apply_weekly(store, 5, WeeklyArgs("off"), None, now).startswith("The weekly brief "
                                                                            "is already off")
    assert describe_weekly(None, None, "UTC", now).startswith("No weekly brief.")


# ---------------------------------------------------------------------------- the week's data

def record(store: Store, feed: str, key: str, title: str, hits: tuple[Hit, ...],
           at: datetime, link: str | None = None) -> None:
    item = Item(key=key, feed=feed, title=title, summary="",
                link=link or f"https://{feed}.test/{key}", published=at, lang="en")
    store.intake.record_items(Feed(feed, f"https://{feed}.test/"), [NewItem(item, hits)], at,
                              backfill=False)


def a_week(store: Store) -> None:
    """Last week (30 Nov – 6 Dec, Shanghai) and the week before, as stories in feeds."""
    week = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Mon 30 Nov 10:00 Shanghai
    before = week - timedelta(days=7)
    record(store, "a", "old-zhipu", "Zhipu raises funds", (ZHIPU,), before)
    record(store, "a", "old-baidu1", "Baidu cuts prices", (BAIDU,), before + timedelta(hours=1))
    record(store, "a", "old-baidu2", "Baidu earnings", (BAIDU,), before + timedelta(days=2))
    for feed in ("a", "b", "c", "d"):  # one story told by four outlets
        record(store, feed, "glm5", "Zhipu releases GLM-5", (ZHIPU,), week,
               link="https://wire.test/glm5")
    for feed in ("a", "b"):
        record(store, feed, "ernie", "Baidu unveils Ernie 5.0", (BAIDU,),
               week + timedelta(days=1), link="https://wire.test/ernie")
    record(store, "a", "zhipu-price", "Zhipu cuts API prices", (ZHIPU,), week + timedelta(days=2))
    record(store, "c", "minimax", "MiniMax files for listing", (MINIMAX,), week + timedelta(days=3))
    record(store, "a", "filing", "SenseTime deep synthesis filing", (FILER,),
           week + timedelta(days=4))
    # Sunday 6 Dec 23:30 in Shanghai (15:30 UTC) is still the week; 16:30 UTC is not.
    record(store, "b", "late", "Zhipu late-night note", (ZHIPU,),
           datetime(2026, 12, 6, 15, 30, tzinfo=UTC))
    record(store, "b", "next", "Zhipu next week", (ZHIPU,), datetime(2026, 12, 6, 16, 30,
                                                                  tzinfo=UTC))


def due_for(store: Store, chat: int, follows: list[str] | None = None):
    store.subscribers.subscribe(chat, "private", None, datetime(2026, 11, 1, tzinfo=UTC))
    if follows:
        store.subscribers.set_follows(chat, follows)
    store.weekly.set(chat, 0, "09:00", "Asia/Shanghai", datetime(2026, 11, 1, tzinfo=UTC))
    [due] = [d for d in store.weekly.due(MONDAY_9_SHANGHAI) if d.chat.chat_id == chat]
    return due


def test_the_brief_counts_stories_not_items_and_ranks_them_by_sources(store: Store) -> None:
    a_week(store)
    watchlists = load_watchlists(REPO / "rules")
    brief = gather_brief(store, watchlists, due_for(store, 1))
    assert brief.week == "2026-W50" and (brief.first_day, brief.last_day) == (
        date(2026, 11, 30), date(2026, 12, 6))
    assert (brief.stories, brief.previous) == (6, 3)  # GLM-5 told four times is one story
    zhipu = next(s for s in brief.trend.series if s.entity == "zhipu")
    assert zhipu.counts == (1, 0, 1, 0, 0, 0, 1) and zhipu.previous == 1  # local days
    titles = {w.id: w.title for w in watchlists.lists}
    top = dict(brief.top)
    assert set(top) == {titles["llm"], titles["deepfake"]}
    llm_top, filings = top[titles["llm"]], top[titles["deepfake"]]
    assert [(s.title, s.sources) for s in llm_top] == [
        ("Zhipu releases GLM-5", 4), ("Baidu unveils Ernie 5.0", 2),
        ("Zhipu late-night note", 1)]  # newest first among equals
    assert llm_top[0].link == "https://wire.test/glm5"
    assert [s.title for s in filings] == ["SenseTime deep synthesis filing"]
    assert set(brief.new_entities) == {"MiniMax", "SenseTime"}  # Zhipu, Baidu were seen before


def test_a_chat_that_follows_a_list_gets_that_lists_week(store: Store) -> None:
    a_week(store)
    watchlists = load_watchlists(REPO / "rules")
    brief = gather_brief(store, watchlists, due_for(store, 2, ["deepfake"]))
    assert (brief.stories, brief.previous) == (1, 0)
    deepfake = next(w.title for w in watchlists.lists if w.id == "deepfake")
    assert [(title, [s.title for s in stories]) for title, stories in brief.top] == [
        (deepfake, ["SenseTime deep synthesis filing"])]
    assert [s.entity for s in brief.trend.series] == ["sensetime"]


def test_a_quiet_week_says_so_without_a_chart(store: Store) -> None:
    brief = gather_brief(store, load_watchlists(REPO / "rules"), due_for(store, 3))
    caption, png = draw_brief(brief)
    assert png is None and "A quiet week" in caption.plain
    assert caption.plain.startswith("Weekly brief · 30 Nov – 06 Dec 2026\n0 stories, +0")


def test_the_brief_is_a_chart_and_a_caption_with_links(store: Store) -> None:
    a_week(store)
    caption, png = draw_brief(gather_brief(store, load_watchlists(REPO / "rules"),
                                           due_for(store, 4)))
    assert png is not None and png_size(png) == (1200, 800)
    assert '<a href="https://wire.test/glm5">Zhipu releases GLM-5</a> (4 sources)' in caption.html
    assert "6 stories, +3 against the week before (3)" in caption.plain
    assert "New this week: " in caption.plain


def test_a_long_brief_still_fits_a_telegram_caption() -> None:
    stories = tuple(TopStory(n, "智谱发布新一代大模型 " * 12 + f"#{n}", f"https://x.test/{n}", 9)
                    for n in range(3))
    top = tuple((f"List number {n} with a long title", stories) for n in range(6))
    trend = build_trend([(f"e{n}", "2026-11-30", n + 1) for n in range(8)], [],
                        first_day=date(2026, 11, 30), days=7)
    brief = WeeklyBrief("2026-W49", date(2026, 11, 30), date(2026, 12, 6), 99, 40, trend, top,
                        tuple(f"Entity {n}" for n in range(30)))
    caption = render_weekly(brief)
    assert tg_len(caption.plain) <= CAPTION_CHARS
    assert tg_len(re.sub(r"<[^>]+>", "", caption.html).replace("&amp;", "&")) <= CAPTION_CHARS
    assert caption.plain.startswith("Weekly brief · 30 Nov – 06 Dec 2026\n99 stories, +59")


# ---------------------------------------------------------------------------- once a week

def test_a_week_is_briefed_once_across_restarts_and_the_next_week_again(db_path) -> None:
    store = Store(db_path)
    a_week(store)
    watchlists = load_watchlists(REPO / "rules")
    store.subscribers.subscribe(1, "private", None, datetime(2026, 11, 1, tzinfo=UTC))
    store.weekly.set(1, 0, "09:00", "Asia/Shanghai", datetime(2026, 11, 1, tzinfo=UTC))
    store.subscribers.subscribe(2, "private", None, datetime(2026, 11, 1, tzinfo=UTC))
    # Switched on after this Monday's moment: the first brief is next week's.
    store.weekly.set(2, 0, "09:00", "Asia/Shanghai", MONDAY_9_SHANGHAI + timedelta(minutes=5))
    store.subscribers.subscribe(3, "private", None, datetime(2026, 11, 1, tzinfo=UTC))  # none
    assert asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI - timedelta(
        seconds=1))) == 1  # last week's, for chat 1: it was on since November
    assert asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI)) == 1
    assert asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI)) == 0
    store.close()
    store = Store(db_path)  # a restart
    try:
        assert asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI
                                         + timedelta(hours=3))) == 0
        jobs = store.outbox.due(MONDAY_9_SHANGHAI + timedelta(hours=3))
        assert [j.chat_id for j in jobs] == [1, 1]
        assert jobs[1].photo is not None and "GLM-5" in (jobs[1].text or "")
        # Moving the day within the same week does not brief that week again.
        store.weekly.set(1, 2, "09:00", "Asia/Shanghai", MONDAY_9_SHANGHAI + timedelta(hours=4))
        assert asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI
                                         + timedelta(days=2, hours=1))) == 0
        next_week = asyncio.run(send_weeklies(store, watchlists, MONDAY_9_SHANGHAI
                                              + timedelta(days=7)))
        assert next_week == 1  # chat 2 (on since before that Monday); chat 1 moved to Wed
        store.weekly.set(2, None, None, "Asia/Shanghai", MONDAY_9_SHANGHAI + timedelta(days=8))
        assert [d.chat.chat_id for d in store.weekly.due(MONDAY_9_SHANGHAI + timedelta(days=9))
                ] == [1]
    finally:
        store.close()
