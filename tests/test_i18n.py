"""The bot speaks Chinese too: every message of the code has its Chinese translation, with
the same placeholders and markup, and what a chat reads fits Telegram in either language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.match.rules import load_watchlists
from bot.models import Hit
from bot.render.alerts import render_alert
from bot.render.digest import render_digest
from bot.render.i18n import EN, catalog_path, language_of, translator
from bot.render.notices import config_notice, health_notice
from bot.render.replies import (
    ADMIN_COMMANDS,
    COMMANDS,
    render_help,
    render_lists,
    render_recent,
    render_start,
    render_status,
)
from bot.render.text import MAX_CHARS, tg_len
from bot.render.trends import build_trend
from bot.render.weekly import CAPTION_CHARS, WeeklyBrief, render_weekly
from bot.store.weekly import TopStory
from bot.telegram.chats import describe_digest
from bot.telegram.weekly import describe_weekly
from tests.test_telegram_e2e import REPO

BOT = REPO / "bot"
ZH = translator("zh")
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
TAG = re.compile(r"</?(?:b|i|u|s|code|pre|a)\b[^>]*>")


def code_messages() -> dict[str, tuple[str, ...]]:
    """Every message the code marks for translation: msgid → its forms (singular, plural)."""
    found: dict[str, tuple[str, ...]] = {}
    for _, _, message, _, _ in extract_from_dir(str(BOT)):
        forms = message if isinstance(message, tuple) else (message,)
        found[forms[0]] = forms
    return found


def catalog() -> dict[str, tuple[str, ...]]:
    with catalog_path("zh").open("rb") as po:
        entries = read_po(po)
    out = {}
    for m in entries:
        if m.id:
            assert not m.fuzzy, f"fuzzy translation of {m.id!r}: review it"
            key = m.id[0] if isinstance(m.id, tuple) else m.id
            out[key] = m.string if isinstance(m.string, tuple) else (m.string,)
    return out


def test_every_message_of_the_code_has_a_chinese_translation() -> None:
    messages, translated = code_messages(), catalog()
    assert len(messages) > 100
    missing = [m for m in messages if not all(translated.get(m, ("",)))]
    assert not missing, ("messages without a Chinese translation (make messages, then "
                         "translate them in " + str(catalog_path("zh")) + "):\n"
                         + "\n".join(missing))
    stale = sorted(set(translated) - set(messages))
    assert not stale, "translations of messages the code no longer has:\n" + "\n".join(stale)


def test_translations_keep_the_placeholders_and_the_markup() -> None:
    for msgid, strings in catalog().items():
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(msgid)), (
                msgid, string)
            assert TAG.findall(string) == TAG.findall(msgid), (msgid, string)


def test_command_descriptions_fit_telegrams_menu_in_both_languages() -> None:
    for tr in (EN, ZH):
        for name, text in COMMANDS + ADMIN_COMMANDS:
            assert 1 <= len(tr._(text)) <= 256, name
    assert ZH._("Subscribe this chat to alerts") == "订阅新闻提醒"


@pytest.mark.parametrize(("code", "lang"), [("zh-hans", "zh"), ("zh-TW", "zh"), ("zh", "zh"),
                                            ("en", "en"), ("de", "en"), (None, "en")])
def test_a_chats_language_comes_from_its_users_telegram_language(code: str | None,
                                                                   lang: str) -> None:
    assert language_of(code) == lang


# ---------------------------------------------------------------------------- what chats read

WATCHLISTS = load_watchlists(REPO / "rules")
BAIDU = Hit("baidu", "llm", "Baidu", "title", 0, 5)
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


class Item:
    def __init__(self, n: int, title: str = "Baidu unveils Ernie 5.0 " + "x" * 300) -> None:
        self.id = n
        self.title = title
        self.summary = "Baidu said " + "words " * 200
        self.link = f"https://news.test/{n}"
        self.feed = "Reuters"
        self.published = NOW
        self.first_seen = NOW
        self.lang = "en"
        self.hits = (BAIDU,)
        self.story_id = n
        self.sources = 3


class Source:
    def __init__(self, n: int) -> None:
        self.feed, self.link, self.lang = f"Outlet {n}", f"https://o{n}.test/", "zh"


def test_an_alert_frame_is_in_the_readers_language_the_feed_text_never_is() -> None:
    item = Item(1, "Baidu unveils Ernie 5.0")
    zh = render_alert(item, item.hits, WATCHLISTS, sources=[Source(n) for n in range(12)], tr=ZH)
    en = render_alert(item, item.hits, WATCHLISTS, sources=[Source(n) for n in range(12)])
    assert "<b>百度</b>" in zh.html and "<b>Baidu</b>" in en.html  # the rules' Chinese name
    assert "Baidu unveils Ernie 5.0" in zh.plain  # the headline as the feed wrote it
    assert "另有 12 个来源：" in zh.plain and "+12 sources: " in en.plain
    assert "，另有 4 家" in zh.plain and " and 4 more" in en.plain


def test_no_reply_exceeds_telegrams_limits_in_either_language() -> None:
    items = [Item(n) for n in range(20)]
    health = [type("H", (), {"name": f"Feed {n} " * 5, "consecutive_errors": n + 1,
                             "last_ok": None, "last_error": "timeout " * 40})()
              for n in range(200)]
    trend = build_trend([(f"e{n}", "2026-11-30", n + 1) for n in range(8)], [],
                        first_day=date(2026, 11, 30), days=7)
    stories = tuple(TopStory(n, "智谱发布新一代大模型 " * 12, f"https://x.test/{n}", 9)
                    for n in range(3))
    brief = WeeklyBrief("2026-W49", date(2026, 11, 30), date(2026, 12, 6), 99, 40, trend,
                        tuple((f"List {n} " * 4, stories) for n in range(6)),
                        tuple(f"Entity {n}" for n in range(30)))
    for tr in (EN, ZH):
        replies = [
            render_help(is_admin=True, tr=tr), render_start(new=True, follows=["llm"] * 80,
                                                            lists=["llm"] * 200, tr=tr),
            render_recent(items, [i.hits for i in items], WATCHLISTS, scope="llm", tr=tr),
            render_lists(WATCHLISTS, follows=["llm"], tr=tr),
            render_status(health, last_cycle=NOW - timedelta(minutes=3), now=NOW, tr=tr),
        ]
        for message in replies:
            assert tg_len(message.plain) <= MAX_CHARS
        for text in render_digest(items * 5, WATCHLISTS, chat_tz="Asia/Shanghai", now=NOW,
                                  tr=tr):
            assert tg_len(re.sub(r"<[^>]+>", "", text)) <= MAX_CHARS
        assert tg_len(render_weekly(brief, tr).plain) <= CAPTION_CHARS
        assert len(config_notice([f"rules/llm.yaml:{n}: bad" for n in range(40)], tr)) < 3000
        assert health_notice("Feed", "https://f.test/", "ok", "failing", since=NOW,
                             last_error="x" * 5000, now=NOW, tr=tr).count("<code>") == 1


def test_dates_and_days_read_as_each_language_writes_them() -> None:
    assert describe_digest("08:00", "Asia/Shanghai", NOW, ZH).startswith(
        "每日汇总：每天 08:00（Asia/Shanghai）发送一条，下一次在周六 12月5日")
    assert describe_digest("08:00", "Asia/Shanghai", NOW).startswith(
        "Digest: one message a day at 08:00 (Asia/Shanghai), the next on Sat 05 Dec")
    assert describe_weekly(0, "09:00", "UTC", NOW, ZH).startswith(
        "每周简报：每周一 09:00（UTC）发送，下一次在周一 12月7日")
    assert ZH.dates.span(date(2026, 11, 30), date(2026, 12, 6)) == "2026年11月30日–12月6日"
    assert EN.dates.span(date(2026, 11, 30), date(2026, 12, 6)) == "30 Nov – 06 Dec 2026"


def test_the_catalog_is_the_po_file_itself_and_other_languages_read_english() -> None:
    assert catalog_path("zh").suffix == ".po"  # no compiled .mo to go stale
    assert translator("fr").lang == "en" and translator("fr")._("Stats") == "Stats"
    assert translator("zh")._("Stats") == "统计"


def test_list_titles_and_names_read_as_the_rules_give_them_in_chinese() -> None:
    zh = render_lists(WATCHLISTS, tr=ZH).plain
    assert "深度合成备案与深度伪造" in zh and "关注名单" in zh
    assert "Deep synthesis filings and deepfakes" in render_lists(WATCHLISTS).plain
    assert ZH.join(["百度", "智谱"]) == "百度、智谱" and EN.join(["a", "b"]) == "a, b"
