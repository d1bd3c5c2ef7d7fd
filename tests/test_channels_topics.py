"""Channels and forum topics without the bot process: /channel's arguments, which topic an
alert goes to, the store's routes and channels, and a deleted topic at delivery time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.match.rules import load_watchlists
from bot.models import Hit
from bot.render.i18n import translator
from bot.render.replies import render_notice
from bot.render.text import RenderedMessage
from bot.store import Store
from bot.store.topics import thread_for
from bot.telegram.channels import (
    ChannelRequest,
    added_reply,
    can_post,
    channel_ref,
    list_reply,
    parse_channel_args,
)
from bot.telegram.chats import apply_follow
from bot.telegram.deliver import DeliveryLimits, DeliveryWorker
from bot.telegram.topics import Topic, TopicFallback, topic_gone_notice
from tests.fake_telegram import FakeTelegram
from tests.test_deliver import (
    FAST,
    deliver_until,
    pending,
    queue_alert,
    render,
    run_clocked,
)
from tests.test_telegram_e2e import REPO

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
FORUM = -100777
WATCHLISTS = load_watchlists(REPO / "rules")


def hit(entity: str, list_id: str) -> Hit:
    return Hit(entity, list_id, entity, "title", 0, 5)


# ---------------------------------------------------------------------------- /channel's words

@pytest.mark.parametrize(("args", "expected"), [
    (["add", "@chinaai"], ChannelRequest("add", "@chinaai")),
    (["add", "chinaai", "llm", "baidu"], ChannelRequest("add", "@chinaai", ("llm", "baidu"))),
    (["ADD", "https://t.me/chinaai", "llm,deepfake"],
     ChannelRequest("add", "@chinaai", ("llm", "deepfake"))),
    (["add", "-1001234567890"], ChannelRequest("add", -1001234567890)),
    (["remove", "@chinaai"], ChannelRequest("remove", "@chinaai")),
    (["list"], ChannelRequest("list")),
])
def test_channel_arguments_are_read(args: list[str], expected: ChannelRequest) -> None:
    assert parse_channel_args(args) == expected


@pytest.mark.parametrize("args", [[], ["add"], ["remove"], ["remove", "@chinaai", "llm"],
                                  ["list", "@chinaai"], ["join", "@chinaai"],
                                  ["add", "@a b"], ["add", "@x"], ["add", "@has-dash"]])
def test_malformed_channel_arguments_are_refused(args: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_channel_args(args)


def test_a_channel_is_named_by_its_handle_or_its_id() -> None:
    assert channel_ref("@China_AI") == "@China_AI"
    assert channel_ref("t.me/China_AI/") == "@China_AI"
    assert channel_ref("-100123") == -100123


class Member:
    def __init__(self, status: str, **rights: bool) -> None:
        self.status = status
        self.__dict__.update(rights)


def test_the_bot_may_post_only_as_an_administrator_with_the_right_to_post() -> None:
    assert can_post(Member("administrator", can_post_messages=True))
    assert not can_post(Member("administrator", can_post_messages=False))
    assert not can_post(Member("member"))
    assert not can_post(Member("left"))
    assert not can_post(None)


def test_channel_replies_in_both_languages() -> None:
    en, zh = translator("en"), translator("zh")
    assert added_reply("@x", ["llm", "baidu"], True, en) == (
        "Added @x: alerts about llm, baidu will be posted there. "
        "/channel remove @x stops them.")
    assert added_reply("@x", [], False, zh) == (
        "@x 此前已添加；今后所有关注列表的提醒都将发布到该频道。"
        "发送 /channel remove @x 可停止推送。")
    assert list_reply([], en).startswith("You have not added a channel.")


# ---------------------------------------------------------------------------- which topic

def test_an_alert_goes_to_its_entitys_topic_before_its_lists() -> None:
    routes = {"llm": 11, "baidu": 33}
    assert thread_for([hit("baidu", "llm")], routes) == 33
    assert thread_for([hit("zhipu", "llm")], routes) == 11


def test_an_alert_goes_to_the_first_of_its_lists_with_a_topic() -> None:
    routes = {"deepfake": 22, "llm": 11}
    assert thread_for([hit("kuaishou", "deepfake"), hit("kuaishou", "llm")], routes) == 22
    assert thread_for([hit("kuaishou", "llm"), hit("kuaishou", "deepfake")], routes) == 11


def test_an_alert_without_a_routed_scope_goes_to_general() -> None:
    assert thread_for([hit("zhipu", "llm")], {"deepfake": 22}) is None
    assert thread_for([hit("zhipu", "llm")], {}) is None
    assert thread_for([Hit("cac", "", "CAC", "title", 0, 3)], {"cac": 5}) is None  # unlisted


# ---------------------------------------------------------------------------- the store

def test_follow_inside_a_topic_routes_there_and_unfollow_forgets(store: Store) -> None:
    store.subscribers.subscribe(FORUM, "supergroup", "Desk", NOW)
    text = apply_follow(store, WATCHLISTS, FORUM, ("list", "llm"), True, NOW, topic=Topic(11))
    assert text == ("Now following: llm. Alerts about anything else are not sent here. "
                    "Alerts about llm arrive in this topic.")
    again = apply_follow(store, WATCHLISTS, FORUM, ("list", "llm"), True, NOW, topic=Topic(12))
    assert again.endswith("Alerts about llm arrive in this topic.")
    assert store.topics.of_chat(FORUM) == {"llm": 12}
    general = apply_follow(store, WATCHLISTS, FORUM, ("list", "llm"), True, NOW,
                           topic=Topic(None))
    assert general.endswith("Alerts about llm arrive in General.")
    assert store.topics.of_chat(FORUM) == {}
    apply_follow(store, WATCHLISTS, FORUM, ("list", "llm"), True, NOW, topic=Topic(11))
    apply_follow(store, WATCHLISTS, FORUM, ("list", "llm"), False, NOW)
    assert store.topics.of_chat(FORUM) == {}


def test_outbox_jobs_carry_their_topic_and_edits_and_notices_none(store: Store) -> None:
    queue_alert(store, {FORUM: "supergroup", 5: "private"})
    store.topics.route(FORUM, "llm", 11, NOW)
    store.outbox.enqueue_notice([FORUM], "a notice", NOW)
    jobs = store.outbox.due(datetime.now(UTC))
    assert {(j.chat_id, j.text, j.thread_id) for j in jobs} == {
        (FORUM, None, 11), (5, None, None), (FORUM, "a notice", None)}


def test_a_deleted_topic_is_forgotten_and_told_once(store: Store) -> None:
    store.topics.route(FORUM, "llm", 11, NOW)
    store.topics.route(FORUM, "baidu", 11, NOW)
    store.topics.route(FORUM, "deepfake", 22, NOW)
    notice = lambda scopes: topic_gone_notice(scopes, translator("en"))  # noqa: E731
    assert store.topics.forget_thread(FORUM, 11, NOW, notice) == ["baidu", "llm"]
    assert store.topics.forget_thread(FORUM, 11, NOW, notice) == []
    assert store.topics.of_chat(FORUM) == {"deepfake": 22}
    [job] = store.outbox.due(datetime.now(UTC))
    assert job.text == (
        "The topic for baidu is gone; its alerts now arrive here. /follow baidu inside a topic "
        "routes them again.\nThe topic for llm is gone; its alerts now arrive here. /follow llm "
        "inside a topic routes them again.")


def test_channels_remember_who_added_them(store: Store) -> None:
    assert store.channels.add(-1005, title="China AI", username="chinaai", added_by=81,
                              follows=["llm"], lang="zh", now=NOW)
    assert not store.channels.add(-1005, title="China AI", username="chinaai", added_by=81,
                                  follows=[], lang="en", now=NOW)
    [channel] = store.channels.added_by(81)
    assert (channel.handle, channel.follows, channel.added_by) == ("@chinaai", (), 81)
    sub = store.subscribers.get(-1005)
    assert sub is not None and sub.kind == "channel" and sub.lang == "zh"  # kept its language
    assert store.channels.added_by(82) == []
    store.subscribers.unsubscribe(-1005, NOW)
    assert store.channels.get(-1005) is None and store.channels.added_by(81) == []


# ---------------------------------------------------------------------------- delivery

def render_job(job: Any) -> RenderedMessage:
    """An alert, or a queued notice as it is."""
    return render(job) if job.item is not None else render_notice(job.text or "")


def test_a_deleted_topic_falls_back_to_general_with_one_notice(store: Store) -> None:
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.telegram.deliver import TelegramNotifier

    queue_alert(store, {FORUM: "supergroup"}, key="t1")
    store.topics.route(FORUM, "llm", 11, NOW)
    with FakeTelegram() as fake:
        fake.set_chat(FORUM, "supergroup", is_forum=True)
        fake.delete_topic(FORUM, 11)

        async def body() -> None:
            bot = Bot(fake.token, base_url=f"{fake.url}/bot",
                      request=HTTPXRequest(connection_pool_size=8))
            async with bot:
                # the notice follows the alert into the same forum: no 3 s group pacing
                # here (test_a_channel_is_paced_like_a_group checks it)
                worker = DeliveryWorker(store.outbox, store.subscribers, TelegramNotifier(bot),
                                        render_job, limits=replace(FAST, group_interval=0.01),
                                        on_topic_gone=TopicFallback(store))
                await deliver_until(worker, lambda: pending(store) == 0
                                    and len(fake.messages_to(FORUM)) == 2)
        asyncio.run(body())
        alert, notice = fake.messages_to(FORUM)
    assert "Baidu" in alert.plain and alert.thread_id is None
    assert notice.plain.startswith("The topic for llm is gone") and notice.thread_id is None
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [400, 200, 200]
    assert store.topics.of_chat(FORUM) == {}
    assert store.outbox.counts() == {"pending": 0, "sent": 2, "failed": 0}


def test_a_channel_is_paced_like_a_group(store: Store) -> None:
    for n in range(3):
        queue_alert(store, {-1005: "channel"}, key=f"c{n}")
    notifier, _ = run_clocked(store, DeliveryLimits())
    times = [t for c, t, _ in notifier.sent if c == -1005]
    assert len(times) == 3
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 3.0 - 1e-9
