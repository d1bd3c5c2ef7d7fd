"""Rendering: escaped, highlighted, valid Telegram HTML, never over 4,096 characters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot.models import Hit
from bot.render import (
    MAX_CHARS,
    cut,
    highlight,
    render_alert,
    render_help,
    render_lists,
    render_recent,
    render_search,
    render_start,
    render_stats,
    render_status,
    tg_len,
)
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
    from bot.render import render_notice

    notice = render_notice("<b>Feed failing</b>: A &amp; B since 2025-03-01")
    assert notice.html.startswith("<b>Feed failing</b>")
    assert notice.plain == "Feed failing: A & B since 2025-03-01"
    long = render_notice("<b>x</b>" + "&amp;" * 5000)
    assert utf16_len(visible(long.html)) <= MAX_CHARS and long.plain.endswith("…")
