"""Rendering: escaped, highlighted, valid Telegram HTML, never over 4,096 characters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot.models import Hit
from bot.render.alerts import render_alert
from bot.render.replies import (
    render_help,
    render_lists,
    render_recent,
    render_search,
    render_start,
    render_stats,
    render_status,
)
from bot.render.text import MAX_CHARS, cut, highlight, tg_len
from tests.fake_telegram import parse_telegram_html, utf16_len

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Ent:
    id: str
    name: str
    zh: str | None = None


@dataclass
class WList:
    id: str
    title: str
    entities: list[Ent] = field(default_factory=list)


@dataclass
class Lists:
    lists: list[WList]

    def entity(self, entity_id: str) -> Ent | None:
        return next((e for wl in self.lists for e in wl.entities if e.id == entity_id), None)


@dataclass
class It:
    title: str
    summary: str = ""
    link: str | None = "https://news.test/a?x=1&y=2"
    feed: str = "Test Feed"
    published: datetime | None = NOW
    first_seen: datetime = NOW
    lang: str | None = "en"


@dataclass
class Health:
    name: str
    last_ok: datetime | None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_errors: int = 0


WL = Lists([WList("llm", "Chinese LLMs", [Ent("iflytek", "iFlytek", "科大讯飞"),
                                          Ent("baidu", "Baidu", "百度")]),
            WList("deepfake", "Deep synthesis filers", [Ent("sensetime", "SenseTime")])])


def hit(entity: str, field_: str, start: int, end: int, list_: str = "llm") -> Hit:
    return Hit(entity, list_, "alias", field_, start, end)


def visible(html_text: str) -> str:
    """What Telegram shows; raises like Telegram on invalid markup."""
    return parse_telegram_html(html_text)


def test_alert_has_tags_linked_title_source_time_and_bold_matches() -> None:
    title = "iFlytek unveils Spark 4.0"
    item = It(title, summary="The 科大讯飞 model beats rivals.")
    hits = [hit("iflytek", "title", 0, 7), hit("iflytek", "summary", 4, 8)]
    msg = render_alert(item, hits, WL, feed_title="SCMP Tech")
    assert msg.html.startswith("#llm · <b>iFlytek</b>\n")
    assert '<a href="https://news.test/a?x=1&amp;y=2"><b>iFlytek</b> unveils Spark 4.0</a>' in msg.html
    assert "<i>SCMP Tech</i> · 2025-03-01 12:00 UTC" in msg.html
    assert "The <b>科大讯飞</b> model beats rivals." in msg.html
    assert visible(msg.html).splitlines()[1] == title
    assert "https://news.test/a?x=1&y=2" in msg.plain and "<" not in msg.plain


@pytest.mark.parametrize("hostile", [
    "<script>alert('x')</script>", "a < b && c > d", "&nbsp;&amp;&#0;", "</a></b><b>",
    '"><img src=x onerror=alert(1)>', "<a href=\"javascript:alert(1)\">x</a>", "&#x110000;",
])
def test_hostile_feed_text_is_escaped_and_shown_verbatim(hostile: str) -> None:
    item = It(f"Baidu {hostile}", summary=f"{hostile} Baidu", link=f"https://x.test/{hostile}")
    hits = [hit("baidu", "title", 0, 5), hit("baidu", "summary", len(hostile) + 1, len(hostile) + 6)]
    msg = render_alert(item, hits, WL, feed_title=hostile)
    shown = visible(msg.html)  # Telegram would accept it ...
    assert f"Baidu {hostile}" in shown  # ... and show the feed's text as text
    assert f"{hostile} Baidu" in shown


def test_javascript_and_relative_links_are_not_linked() -> None:
    for link in ("javascript:alert(1)", "/relative/path", "data:text/html,x", None):
        msg = render_alert(It("Baidu news", link=link), [hit("baidu", "title", 0, 5)], WL)
        assert "<a " not in msg.html


def test_huge_summary_is_cut_to_fit_4096_without_breaking_markup() -> None:
    summary = ("Baidu & <b>co</b> 😀 " * 2000)
    hits = [hit("baidu", "summary", i * 20, i * 20 + 5) for i in range(0, 2000, 7)]
    msg = render_alert(It("Baidu" * 1000, summary=summary), hits, WL)
    shown = visible(msg.html)
    assert utf16_len(shown) <= MAX_CHARS and utf16_len(msg.plain) <= MAX_CHARS
    assert shown.rstrip().endswith("…")


def test_alert_summary_is_short() -> None:
    msg = render_alert(It("Baidu", summary="word " * 500), [hit("baidu", "title", 0, 5)], WL)
    assert tg_len(visible(msg.html)) < 1100


def test_highlight_merges_overlaps_and_ignores_out_of_range_spans() -> None:
    assert highlight("abc<def", [(0, 2), (1, 4), (10, 12), (5, 3)]) == "<b>abc&lt;</b>def"


def test_cut_never_splits_a_surrogate_pair_and_counts_utf16() -> None:
    text = "😀" * 10
    shortened = cut(text, 6)
    assert shortened == "😀😀…" and tg_len(shortened) == 5
    assert cut("short", 10) == "short"


def test_recent_lists_items_newest_first_in_one_message() -> None:
    items = [It(f"Baidu story {n} " + "<x>" * 300, link=f"https://n.test/{n}") for n in range(20)]
    msg = render_recent(items, [[hit("baidu", "title", 0, 5)]] * 20, WL, scope="llm")
    shown = visible(msg.html)
    assert utf16_len(shown) <= MAX_CHARS
    assert shown.startswith("Latest 20 matched items for llm")
    assert shown.index("1. Baidu story 0") < shown.index("20. Baidu story 19")


def test_recent_with_nothing_says_so() -> None:
    assert "Nothing matched yet" in render_recent([], [], WL).plain


def test_search_reply_echoes_escaped_words() -> None:
    msg = render_search("<b>baidu", [It("Baidu AI")], [[]], WL)
    assert visible(msg.html).startswith("Search: <b>baidu")


def test_lists_are_paged_with_navigation_and_follow_buttons() -> None:
    big = Lists([WList(f"l{n}", f"List {n}", [Ent(f"e{n}_{k}", f"Entity {k}") for k in range(30)])
                 for n in range(3)])
    first = render_lists(big, page=0, per_page=25, follows=("l0",))
    assert "page 1/4" in first.plain and "Entity 23" in first.plain
    data = [b.data for row in first.buttons for b in row]
    assert data == ["unfollow:l0:0", "lists:1"]
    second = render_lists(big, page=1, per_page=25)
    assert [b.data for row in second.buttons for b in row] == ["follow:l1:1", "lists:0", "lists:2"]
    for page in range(4):
        assert utf16_len(visible(render_lists(big, page=page).html)) <= MAX_CHARS


def test_lists_show_chinese_names_and_ids() -> None:
    shown = visible(render_lists(WL).html)
    assert "• iFlytek 科大讯飞 — iflytek" in shown
    assert "You follow: everything" in shown


def test_status_counts_ok_failing_and_names_the_oldest_failure() -> None:
    health = [
        Health("A", NOW),
        Health("B", datetime(2025, 2, 1, tzinfo=UTC), "HTTP 500", NOW, 3),
        Health("C", None, "not a feed <html>", NOW, 9),
        Health("D", None),
    ]
    shown = visible(render_status(health, last_cycle=NOW, now=NOW).html)
    assert "4 feeds: 1 ok, 2 failing, 1 not polled yet" in shown
    assert "Oldest failure: C (never ok)" in shown
    assert "C — 9× not a feed <html>" in shown


def test_stats_help_and_start_are_valid_html() -> None:
    stats = {"subscribers": 3, "active_subscribers": 2, "items": 10, "matched_items": 4,
             "alerts": 4, "sent": 7, "pending": 1, "failed": 0}
    assert "Subscribers: 2 active of 3" in visible(render_stats(stats).html)
    assert "/reload" in visible(render_help(is_admin=True).html)
    assert "/reload" not in visible(render_help().html)
    start = visible(render_start(new=True, follows=(), lists=("llm",)).html)
    assert start.startswith("Subscribed.") and "/follow" in start and "/stop" in start


def test_admin_notice_keeps_its_markup_and_gets_a_plain_twin() -> None:
    from bot.render.replies import render_notice

    notice = render_notice("<b>Feed failing</b>: A &amp; B since 2025-03-01")
    assert notice.html.startswith("<b>Feed failing</b>")
    assert notice.plain == "Feed failing: A & B since 2025-03-01"
    long = render_notice("<b>x</b>" + "&amp;" * 5000)
    assert utf16_len(visible(long.html)) <= MAX_CHARS and long.plain.endswith("…")


# ---------------------------------------------------------------------------- digests (issue 6)

@dataclass
class Held:
    """A held item as the store hands it to the digest (bot.store.HeldItem's shape)."""

    id: int
    title: str
    hits: tuple[Hit, ...]
    feed: str = "Test Feed"
    story_id: int | None = None
    sources: int = 1
    summary: str = ""
    link: str | None = "https://news.test/a?x=1&y=2"
    published: datetime | None = None
    first_seen: datetime = NOW


def test_digest_groups_stories_by_list_then_entity_in_watchlist_order() -> None:
    from bot.render.digest import render_digest

    items = [
        Held(1, "SenseTime files deep synthesis algorithm", (hit("sensetime", "title", 0, 9,
                                                                  "deepfake"),)),
        Held(2, "Baidu ships Ernie 5", (hit("baidu", "title", 0, 5),)),
        Held(3, "iFlytek Spark update", (hit("iflytek", "title", 0, 7),)),
        Held(4, "Baidu cuts prices", (hit("baidu", "title", 0, 5),)),
    ]
    [message] = render_digest(items, WL, chat_tz="UTC", now=NOW)
    lines = visible(message).splitlines()
    assert lines[:2] == ["Daily digest · 1 Mar 2025 (UTC)", "4 stories"]
    assert lines[2:] == [
        "", "#llm — Chinese LLMs",
        "iFlytek", "• iFlytek Spark update — Test Feed, 12:00",
        "Baidu", "• Baidu ships Ernie 5 — Test Feed, 12:00",
        "• Baidu cuts prices — Test Feed, 12:00",
        "", "#deepfake — Deep synthesis filers",
        "SenseTime", "• SenseTime files deep synthesis algorithm — Test Feed, 12:00",
    ]
    assert '<a href="https://news.test/a?x=1&amp;y=2"><b>Baidu</b> ships Ernie 5</a>' in message


def test_digest_counts_a_story_told_by_three_feeds_once() -> None:
    from bot.render.digest import render_digest

    told = [Held(n, f"Baidu ships Ernie 5 ({feed})", (hit("baidu", "title", 0, 5),), feed=feed,
                 story_id=7, first_seen=NOW.replace(minute=n))
            for n, feed in ((3, "Feed C"), (1, "Feed A"), (2, "Feed B"))]
    alone = Held(9, "Baidu cuts prices", (hit("baidu", "title", 0, 5),))
    [message] = render_digest([*told, alone], WL, chat_tz="UTC", now=NOW)
    shown = visible(message)
    assert "2 stories" in shown
    assert "• Baidu ships Ernie 5 (Feed A) — Feed A, 12:01 (3 sources)" in shown  # first seen
    assert "Feed B" not in shown and "Feed C" not in shown
    # The store may know of more feeds than the alerts held here.
    [message] = render_digest([Held(1, "Baidu news", (hit("baidu", "title", 0, 5),), story_id=3,
                                    sources=4)], WL, chat_tz="UTC", now=NOW)
    assert "(4 sources)" in visible(message)


def test_digest_files_a_story_once_per_list_under_its_title_entity() -> None:
    from bot.render.digest import render_digest

    both = Held(1, "Baidu and iFlytek trade blows; SenseTime files",
                (hit("iflytek", "title", 10, 17), hit("baidu", "title", 0, 5),
                 hit("sensetime", "title", 31, 40, "deepfake"), hit("baidu", "", 0, 5, "")))
    [message] = render_digest([both], WL, chat_tz="UTC", now=NOW)
    lines = visible(message).splitlines()
    assert lines.count("Baidu") == 1 and "iFlytek" not in lines  # filed under Baidu in llm ...
    assert any(line.endswith("· also iFlytek") for line in lines)
    assert "SenseTime" in lines  # ... and under SenseTime in deepfake
    assert sum(line.startswith("• ") for line in lines) == 2


def test_digest_shows_times_in_the_chats_time_zone() -> None:
    from bot.render.digest import render_digest

    now = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in Shanghai
    items = [Held(1, "Baidu late", (hit("baidu", "title", 0, 5),), first_seen=now),
             Held(2, "Baidu early", (hit("baidu", "title", 0, 5),),
                  published=datetime(2025, 3, 1, 3, 0, tzinfo=UTC))]
    [message] = render_digest(items, WL, chat_tz="Asia/Shanghai", now=now)
    shown = visible(message)
    assert shown.startswith("Daily digest · 2 Mar 2025 (Asia/Shanghai)")
    assert "Baidu late — Test Feed, 07:30" in shown
    assert "Baidu early — Test Feed, 1 Mar 11:00" in shown


def test_nothing_held_is_no_digest() -> None:
    from bot.render.digest import render_digest

    assert render_digest([], WL, chat_tz="UTC", now=NOW) == []
    unlisted = Held(1, "Baidu mentioned", (hit("baidu", "title", 0, 5, ""),))
    assert render_digest([unlisted], WL, chat_tz="UTC", now=NOW) == []


@pytest.mark.parametrize("hostile", ["<script>alert('x')</script>", "a < b && c > d",
                                     "</i></a><b>", '"><img src=x>'])
def test_digest_escapes_feed_text(hostile: str) -> None:
    from bot.render.digest import render_digest

    item = Held(1, f"Baidu {hostile}", (hit("baidu", "title", 0, 5),), feed=hostile,
                link=f"https://x.test/{hostile}")
    [message] = render_digest([item], WL, chat_tz="UTC", now=NOW)
    shown = visible(message)
    assert f"Baidu {hostile} — {hostile}, 12:00" in shown


def test_a_long_digest_is_split_between_lines_and_each_part_fits() -> None:
    from bot.render.digest import render_digest

    entities = [("iflytek", "llm"), ("baidu", "llm"), ("sensetime", "deepfake")]
    items = [Held(n, f"Baidu 😀 story number {n} " + "long words & <more> " * 12,
                  (hit(entities[n % 3][0], "title", 0, 5, entities[n % 3][1]),),
                  link=f"https://news.test/{n}?a=1&b=2", first_seen=NOW.replace(second=n % 60))
             for n in range(240)]
    messages = render_digest(items, WL, chat_tz="Europe/Berlin", now=NOW)
    assert len(messages) > 3
    shown = [visible(m) for m in messages]  # each part is valid Telegram HTML on its own
    assert all(utf16_len(s) <= MAX_CHARS for s in shown)
    assert all(m.count("<a ") == m.count("</a>") for m in messages)
    stories = [line for s in shown for line in s.splitlines() if line.startswith("• ")]
    assert sorted(int(line.split("number ")[1].split()[0]) for line in stories) == list(range(240))
    for s in shown[1:]:  # a continued part names its list and entity before any story
        lines = s.splitlines()
        assert lines[0] == "Daily digest (continued)" and lines[2].startswith("#")
        assert not lines[3].startswith("• ") and lines[4].startswith("• ")


@dataclass
class Src:
    feed: str
    title: str
    link: str | None
    lang: str | None


def test_sources_name_the_outlets_and_mark_those_in_another_language() -> None:
    sources = [Src("Bloomberg", "Baidu unveils Ernie 5.0", "https://bloomberg.test/1", "en"),
               Src("36氪", "百度发布文心大模型5.0", "https://36kr.test/1", "zh-CN"),
               Src("Wire", "Baidu unveils Ernie 5.0", None, None)]
    message = render_alert(It("Baidu launches Ernie 5.0"), [], WL, sources=sources)
    assert message.plain.endswith("+3 sources: Bloomberg, 36氪 (zh), Wire")
    assert '<a href="https://36kr.test/1">36氪</a> (zh)' in message.html
    chinese = render_alert(It("百度发布文心大模型5.0", lang="zh"), [], WL, sources=sources[:2])
    assert chinese.plain.endswith("+2 sources: Bloomberg (en), 36氪")
