"""The buttons under an alert, end to end through `newsbot run` and the fake Bot API:
mute a company for 7 days and undo it, see a story's other sources, the buttons kept by a
"+N sources" edit, forged or foreign callback data refused, and in a group only admins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Feed, Hit, Item
from bot.store import NewItem, Store
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.feedserver import FeedServer, Route
from tests.test_telegram_e2e import INTERVAL, Deployment, rss, wait_until

A, B = "/a.xml", "/b.xml"
ERNIE = "Baidu releases Ernie 5.0, a new large language model"
PRICES = "Baidu halves Ernie API prices for developers"
AGAIN = "Baidu sues a startup over a copy of its Ernie large language model"
GROUP, GROUP_ADMIN, MEMBER = -1007, 91, 92


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("buttons")
    with FakeTelegram() as fake, FeedServer() as feeds:
        d = Deployment(root, fake, feeds)
        for path in (A, B):
            feeds.routes[path] = Route(body=rss([("w1", "Weather today: sunny")]))
        (root / "feeds.yaml").write_text(
            f"defaults: {{interval: {INTERVAL}, timeout: 5s}}\n"
            f"feeds:\n  - {{name: Wire A, url: \"{feeds.url(A)}\", lang: en}}\n"
            f"  - {{name: Wire B, url: \"{feeds.url(B)}\", lang: en}}\n")
        d.start()
        wait_until(lambda: all(feeds.hits.get(p, 0) >= 1 for p in (A, B)), what="first polls")
        yield d
        if d.proc is not None:
            d.stop()


def publish(d: Deployment, path: str, *items: tuple[str, str]) -> None:
    d.feeds.routes[path] = Route(body=rss([*items, ("w1", "Weather today: sunny")]))


def alert(d: Deployment, chat: int, title: str) -> SentMessage:
    """The latest state of the alert about `title` in `chat` (its last edit included)."""
    d.fake.wait_for(lambda sent: any(m.chat_id == chat and title in m.plain for m in sent), 15)
    first = next(m for m in d.fake.sent if m.chat_id == chat and title in m.plain)
    return [m for m in d.fake.sent if (m.chat_id, m.message_id) == (chat, first.message_id)][-1]


def buttons(message: SentMessage) -> dict[str, str]:
    return {b["text"]: b["callback_data"]
            for row in (message.reply_markup or {}).get("inline_keyboard", []) for b in row}


def press(d: Deployment, chat: int, message: SentMessage, data: str,
          user: int | None = None) -> str:
    """Press a button (or send forged data for it); the bot's answer to the press."""
    before = len(d.fake.callback_answers)
    d.fake.user_clicks(chat, message.message_id, data, user_id=user)
    wait_until(lambda: len(d.fake.callback_answers) > before, 10, "the answer to a press")
    return str(d.fake.callback_answers[-1].get("text") or "")


def test_mute_for_seven_days_undo_and_the_sources_of_a_story(bot: Deployment) -> None:
    d, me, other = bot, 801, 802
    d.say(me, "/start")
    d.say(other, "/start")
    publish(d, A, ("ernie", ERNIE))
    first = alert(d, me, "Ernie 5.0")
    assert list(buttons(first)) == ["🔕 Mute Baidu 7 d"]
    # another outlet carries it: the "+1 source" edit keeps the buttons and adds Sources
    publish(d, B, ("ernie", ERNIE))
    d.fake.wait_for(lambda sent: any(m.method == "editMessageText" and m.chat_id == me
                                     for m in sent), 15)
    edited = alert(d, me, "Ernie 5.0")
    assert "+1 source: Wire B" in edited.plain
    assert list(buttons(edited)) == ["🔕 Mute Baidu 7 d", "📰 1 more source"]
    before = len(d.fake.messages_to(me))
    assert press(d, me, edited, buttons(edited)["📰 1 more source"]) == ""
    sources = d.fake.wait_for_messages(me, before + 1)[-1]
    assert sources.plain.startswith("Other sources of: " + ERNIE) and "Wire B" in sources.plain

    answer = press(d, me, edited, buttons(edited)["🔕 Mute Baidu 7 d"])
    assert answer == "Muted Baidu for 7 days here. Tap “Unmute” to undo."
    wait_until(lambda: "🔔 Unmute Baidu" in buttons(alert(d, me, "Ernie 5.0")), 10,
               "the keyboard to offer the undo")  # edited right after the answer
    muted = alert(d, me, "Ernie 5.0")
    assert list(buttons(muted)) == ["🔔 Unmute Baidu", "📰 1 more source"]
    assert d.say(me, "/muted").plain.startswith("Muted here:\n• Baidu until ")

    publish(d, A, ("prices", PRICES), ("ernie", ERNIE))
    alert(d, other, "halves Ernie")  # the other chat gets it ...
    d.wait_for_polls(2)  # ... a poll ...
    d.wait_until_delivered(me)  # ... and a worker pass later, this one still has not
    assert not [m for m in d.fake.messages_to(me) if "halves Ernie" in m.plain]

    assert press(d, me, muted, buttons(muted)["🔔 Unmute Baidu"]) == (
        "Alerts about Baidu arrive here again.")
    wait_until(lambda: "🔕 Mute Baidu 7 d" in buttons(alert(d, me, "Ernie 5.0")), 10,
               "the mute button back")
    publish(d, A, ("again", AGAIN), ("prices", PRICES), ("ernie", ERNIE))
    alert(d, me, "sues a startup")


def test_forged_and_foreign_callback_data_change_nothing(bot: Deployment) -> None:
    d, me, other = bot, 801, 802
    mine, theirs = alert(d, me, "Ernie 5.0"), alert(d, other, "Ernie 5.0")
    refused = "This button is not valid here."
    assert press(d, me, mine, "m:baidu:000000000000") == refused  # a made-up signature
    assert press(d, me, mine, buttons(theirs)["🔕 Mute Baidu 7 d"]) == refused  # another chat's
    assert press(d, me, mine, "m:baidu") == refused
    assert press(d, me, mine, "s:1:zzz") == refused
    store = Store(d.root / "newsbot.db")
    try:
        assert store.subscribers.mutes(me, datetime.now(UTC)) == []
    finally:
        store.close()


def test_in_a_group_only_administrators_press_the_mute_button(bot: Deployment) -> None:
    d = bot
    d.fake.set_chat(GROUP, "supergroup", title="Analysts", admins=[GROUP_ADMIN])
    d.say(GROUP, "/start", user_id=GROUP_ADMIN, kind="supergroup", title="Analysts")
    publish(d, B, ("glm", "Zhipu releases GLM-5 large language model"), ("ernie", ERNIE))
    message = alert(d, GROUP, "GLM-5")
    mute = buttons(message)["🔕 Mute Zhipu AI 7 d"]
    assert press(d, GROUP, message, mute, user=MEMBER) == (
        "Only this chat's administrators can change what it receives.")
    assert press(d, GROUP, message, mute, user=GROUP_ADMIN).startswith("Muted Zhipu AI")


# ---------------------------------------------------------------------------- 7 days, a clock

def test_a_mute_lasts_seven_days_by_the_clock_then_alerts_come_back(db_path: Path) -> None:
    store = Store(db_path)
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    store.subscribers.subscribe(1, "private", None, now)
    store.subscribers.subscribe(2, "private", None, now)
    store.subscribers.mute(1, "baidu", now + timedelta(days=7), now)
    baidu = Hit("baidu", "llm", "Baidu", "title", 0, 5)
    zhipu = Hit("zhipu", "llm", "Zhipu", "title", 0, 5)

    def queued(key: str, hits: tuple[Hit, ...], at: datetime) -> set[int]:
        item = Item(key=key, feed="A", title=f"{key} story", summary="",
                    link=f"https://n.test/{key}", published=at, lang="en")
        [r] = store.intake.record_items(Feed("A", "https://a.test/"), [NewItem(item, hits)],
                                        at, backfill=False)
        return {row["chat_id"] for row in store.db.rows(
            "SELECT chat_id FROM outbox WHERE alert_id = ?", [r.alert_id])}

    try:
        assert queued("k1", (baidu,), now + timedelta(days=6, hours=23)) == {2}
        assert queued("k2", (baidu, zhipu), now + timedelta(days=1)) == {1, 2}  # Zhipu too
        assert queued("k3", (baidu,), now + timedelta(days=7, minutes=1)) == {1, 2}
        assert store.subscribers.mutes(1, now + timedelta(days=8)) == []
    finally:
        store.close()
