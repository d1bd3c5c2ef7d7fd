"""Groups through `newsbot run` and the fake Bot API: only a group's administrators change
what it receives; everyone may read (/recent, /help, /lists)."""

from __future__ import annotations

from tests.test_telegram_e2e import Deployment, deployment  # noqa: F401 - a fixture

GROUP, ADMIN, MEMBER = -1005, 71, 72
REFUSAL = "Only this group's administrators can change what it receives."


def test_only_a_groups_admins_change_what_it_receives(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    d.fake.set_chat(GROUP, "supergroup", title="Analysts", admins=[ADMIN])

    def say(user: int, text: str) -> str:
        return d.say(GROUP, text, user_id=user, kind="supergroup", title="Analysts").plain

    for command in ("/start", "/follow llm", "/digest daily 08:00", "/weekly on",
                    "/lang zh", "/stop"):
        assert say(MEMBER, command) == REFUSAL, command
    assert say(ADMIN, "/start").startswith("Subscribed.")
    assert say(MEMBER, "/follow llm") == REFUSAL
    assert say(ADMIN, "/follow llm").startswith("Now following: llm.")
    assert say(MEMBER, "/help").startswith("newsbot — alerts")  # reading is for everyone
    assert say(MEMBER, "/recent").startswith("Latest ")
    # an anonymous administrator posts as the group itself
    anonymous = d.say(GROUP, "/lang zh", kind="supergroup", title="Analysts", anonymous=True)
    assert anonymous.plain == "设置成功：本对话已切换为中文。"
    assert say(MEMBER, "/lang en") == "只有本群管理员可以更改本群接收的内容。"
