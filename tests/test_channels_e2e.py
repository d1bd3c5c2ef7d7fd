"""Channels through `newsbot run` and the fake Bot API: a channel's administrator adds it
from a private chat; the bot checks its own rights and the user's, says what is missing, and
the channel then receives its alerts until an administrator removes it."""

from __future__ import annotations

from tests.test_telegram_e2e import MATCH, Deployment, deployment  # noqa: F401 - a fixture

CHANNEL, QUIET, ABSENT, GROUP = -100500, -100501, -100502, -100503
ADMIN, OTHER, READER = 81, 82, 83


def channel_alerts(d: Deployment, words: str) -> list[str]:
    return [m.text for m in d.fake.messages_to(CHANNEL) if words in m.plain]


def test_an_admin_adds_a_channel_and_it_receives_the_alerts_it_follows(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    d.fake.set_chat(CHANNEL, "channel", title="China AI Watch", username="chinaaiwatch",
                    admins=[ADMIN])
    assert d.say(ADMIN, "/channel list").plain.startswith("You have not added a channel.")
    added = d.say(ADMIN, "/channel add @chinaaiwatch llm").plain
    assert added == ("Added @chinaaiwatch: alerts about llm will be posted there. "
                     "/channel remove @chinaaiwatch stops them.")
    assert d.say(ADMIN, "/channel list").plain == "Channels you added:\n@chinaaiwatch — llm"

    d.publish("ch1", "Zhipu AI releases GLM-5 large language model")
    d.publish("ch2", "ByteDance fined over deepfake face swap app")  # deepfake: not followed
    d.fake.wait_for(lambda sent: any(m.chat_id == CHANNEL and "GLM-5" in m.text
                                     for m in sent), 15)
    [alert] = channel_alerts(d, "GLM-5")
    assert alert.startswith("#llm") and "<b>Zhipu</b>" in alert
    assert channel_alerts(d, "ByteDance") == []


def test_adding_a_channel_says_exactly_what_is_missing(
        deployment: Deployment) -> None:  # noqa: F811
    d = deployment
    d.fake.set_chat(QUIET, "channel", title="Quiet", username="quietroom", admins=[ADMIN],
                    bot_can_post=False)
    d.fake.set_chat(ABSENT, "channel", title="Absent", username="absentroom", admins=[ADMIN],
                    bot_status="left")
    d.fake.set_chat(GROUP, "supergroup", title="Desk", username="deskgroup", admins=[ADMIN])

    def add(user: int, args: str) -> str:
        return d.say(user, f"/channel add {args}").plain

    assert add(OTHER, "@chinaaiwatch") == (
        "Only an administrator of @chinaaiwatch can add it to newsbot. Ask one of them to "
        "send /channel add @chinaaiwatch here.")
    for name in ("@quietroom", "@absentroom"):
        assert add(ADMIN, name) == (
            f"Add me as an administrator of {name} with the right to post messages, then send "
            f"/channel add {name} again.")
    assert add(ADMIN, "@deskgroup") == (
        "@deskgroup is not a channel. For a group, add me to it and send /start there.")
    assert add(ADMIN, "@nobodyhere").startswith("I cannot find the channel @nobodyhere.")
    assert add(ADMIN, "@chinaaiwatch nosuchlist").startswith(
        "Unknown list or entity “nosuchlist”.\nUsage: /channel add")
    assert d.say(ADMIN, "/channel").plain.startswith("Usage: /channel add @name|id [list…]")
    in_group = d.say(GROUP, "/channel add @chinaaiwatch", user_id=ADMIN, kind="supergroup",
                     title="Desk").plain
    assert in_group.startswith("Channels are added in a private chat")
    # nothing of that subscribed anything: the one channel is still the first one
    assert d.say(ADMIN, "/channel list").plain == "Channels you added:\n@chinaaiwatch — llm"
    chinese = d.say(OTHER, "/channel list", language_code="zh-hans").plain
    assert chinese.startswith("你还没有添加频道。")


def test_only_a_channels_admin_removes_it_and_then_it_gets_nothing(
        deployment: Deployment) -> None:  # noqa: F811
    d = deployment
    assert d.say(OTHER, "/channel remove @chinaaiwatch").plain == (
        "Only an administrator of @chinaaiwatch can remove it.")
    assert d.say(ADMIN, "/channel remove @chinaaiwatch").plain == (
        "Removed @chinaaiwatch: no more alerts are posted there.")
    assert d.say(ADMIN, "/channel remove @chinaaiwatch").plain == (
        "@chinaaiwatch does not receive alerts: nothing to remove.")
    assert d.say(ADMIN, "/channel list").plain.startswith("You have not added a channel.")

    assert d.say(READER, "/start").plain.startswith("Subscribed.")
    d.publish("ch3", "iFlytek launches Spark 5 large language model")
    d.fake.wait_for(lambda sent: any(m.chat_id == READER and "Spark 5" in m.text
                                     for m in sent), 15)
    # the same poll queued every chat's row at once: none was for the channel
    d.wait_until_delivered(CHANNEL)
    assert channel_alerts(d, "Spark 5") == []


def test_a_chinese_admins_channel_reads_chinese(deployment: Deployment) -> None:  # noqa: F811
    d = deployment
    zh_channel, zh_admin = -100510, 84
    d.fake.set_chat(zh_channel, "channel", title="中国AI观察", username="zhaiwatch",
                    admins=[zh_admin])
    added = d.say(zh_admin, "/channel add @zhaiwatch baidu", language_code="zh-hans").plain
    assert added == ("已添加 @zhaiwatch：有关 baidu 的提醒将发布到该频道。"
                     "发送 /channel remove @zhaiwatch 可停止推送。")
    d.publish("ch4", MATCH)
    d.fake.wait_for(lambda sent: any(m.chat_id == zh_channel and "Ernie" in m.text
                                     for m in sent), 15)
    [alert] = [m for m in d.fake.messages_to(zh_channel) if "Ernie" in m.text]
    assert "百度" in alert.plain.splitlines()[0] and MATCH in alert.plain
