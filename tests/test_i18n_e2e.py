"""A Chinese user end to end: `newsbot run` against the fake Bot API answers in Chinese,
frames alerts in Chinese (the headline stays as the feed wrote it), registers a Chinese menu,
and /lang switches a chat's language."""

from __future__ import annotations

from tests.test_telegram_e2e import MATCH, Deployment, deployment  # noqa: F401 - a fixture


def test_a_chinese_user_is_answered_and_alerted_in_chinese(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    zh, en = {c["command"]: c["description"] for c in d.fake.menu("zh")}, {
        c["command"]: c["description"] for c in d.fake.menu("")}
    assert zh["start"] == "订阅新闻提醒" and en["start"] == "Subscribe this chat to alerts"
    assert set(zh) == set(en) and "lang" in zh

    chinese, english = 601, 602
    start = d.say(chinese, "/start", language_code="zh-hans").plain
    assert start.startswith("订阅成功。") and "/lang en" in start
    assert d.say(english, "/start", language_code="en").plain.startswith("Subscribed.")
    assert "/trends — 各机构新闻走势图" in d.say(chinese, "/help").plain
    assert d.say(chinese, "/weekly on 25:00").plain.startswith(
        "用法：/weekly on [星期] [HH:MM] [时区] | /weekly off")

    d.publish("zh-1", MATCH)
    d.fake.wait_for(lambda sent: {m.chat_id for m in sent if "Ernie" in m.text}
                    >= {chinese, english}, 15)
    [to_zh] = [m for m in d.fake.messages_to(chinese) if "Ernie" in m.text]
    [to_en] = [m for m in d.fake.messages_to(english) if "Ernie" in m.text]
    assert "百度" in to_zh.plain.splitlines()[0] and "Baidu" in to_en.plain.splitlines()[0]
    assert MATCH in to_zh.plain  # the feed's own words, never translated

    assert d.say(chinese, "/lang").plain.startswith("本对话当前使用中文")
    assert d.say(chinese, "/lang fr").plain == "用法：/lang zh | /lang en"
    assert d.say(chinese, "/lang en").plain == "Done: this chat reads newsbot in English now."
    assert d.say(chinese, "/help").plain.startswith("newsbot — alerts on China's")
    assert d.say(english, "/lang zh").plain == "设置成功：本对话已切换为中文。"
    assert d.say(english, "/recent").plain.startswith("最新 ")
