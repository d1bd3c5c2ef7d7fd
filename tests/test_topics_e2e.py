"""Forum topics through `newsbot run` and the fake Bot API: `/follow` sent inside a topic
routes that list's alerts to the topic; a deleted topic falls back to General with one
notice, and its alert still arrives."""

from __future__ import annotations

from tests.fake_telegram import SentMessage
from tests.test_telegram_e2e import Deployment, deployment  # noqa: F401 - a fixture

FORUM, ADMIN = -100777, 71
LLM_TOPIC, DEEPFAKE_TOPIC, NEW_TOPIC = 11, 22, 33
GONE = ("The topic for llm is gone; its alerts now arrive here. /follow llm inside a topic "
        "routes them again.")


def say(d: Deployment, text: str, thread: int | None = None) -> SentMessage:
    return d.say(FORUM, text, user_id=ADMIN, kind="supergroup", title="China AI desk",
                 thread_id=thread)


def alert(d: Deployment, words: str) -> SentMessage:
    d.fake.wait_for(lambda sent: any(m.chat_id == FORUM and words in m.text for m in sent), 20)
    [found] = [m for m in d.fake.messages_to(FORUM) if words in m.text]
    return found


def test_two_lists_routed_to_two_topics_arrive_in_their_topics(
        deployment: Deployment) -> None:  # noqa: F811 - the imported fixture
    d = deployment
    d.fake.set_chat(FORUM, "supergroup", title="China AI desk", is_forum=True, admins=[ADMIN])
    assert say(d, "/start").plain.startswith("Subscribed.")
    llm = say(d, "/follow llm", LLM_TOPIC)
    assert llm.thread_id == LLM_TOPIC  # answered inside the topic it was asked in
    assert llm.plain == ("Now following: llm. Alerts about anything else are not sent here. "
                         "Alerts about llm arrive in this topic.")
    deepfake = say(d, "/follow deepfake", DEEPFAKE_TOPIC)
    assert deepfake.thread_id == DEEPFAKE_TOPIC
    assert deepfake.plain.endswith("Alerts about deepfake arrive in this topic.")

    d.publish("t1", "Moonshot AI launches Kimi K2 open weights model")
    d.publish("t2", "ByteDance fined over deepfake face swap app")
    assert alert(d, "Kimi K2").thread_id == LLM_TOPIC
    assert alert(d, "ByteDance").thread_id == DEEPFAKE_TOPIC


def test_a_deleted_topic_falls_back_to_general_with_one_notice(
        deployment: Deployment) -> None:  # noqa: F811
    d = deployment
    d.fake.delete_topic(FORUM, LLM_TOPIC)
    d.publish("t3", "MiniMax unveils a new multimodal AI model")
    minimax = alert(d, "MiniMax")
    assert minimax.thread_id is None and minimax.text.startswith("#llm")
    d.fake.wait_for(lambda sent: any(m.chat_id == FORUM and m.plain == GONE for m in sent), 20)
    refused = [c for c in d.fake.calls if c.method == "sendMessage" and c.status == 400]
    assert [c.params.get("message_thread_id") for c in refused] == [str(LLM_TOPIC)]

    # from now on llm goes straight to General, without a second notice
    d.publish("t4", "SenseTime releases SenseNova 6 foundation model")
    assert alert(d, "SenseNova").thread_id is None
    assert sum(m.plain == GONE for m in d.fake.messages_to(FORUM)) == 1
    assert len([c for c in d.fake.calls if c.method == "sendMessage" and c.status == 400]) == 1
    # deepfake keeps its topic
    d.publish("t5", "Kuaishou warned over deepfake videos made with Kling")
    assert alert(d, "Kuaishou").thread_id == DEEPFAKE_TOPIC


def test_follow_in_another_topic_or_in_general_moves_the_route(
        deployment: Deployment) -> None:  # noqa: F811
    d = deployment
    again = say(d, "/follow llm", NEW_TOPIC)
    assert again.thread_id == NEW_TOPIC
    assert again.plain == ("Already following llm. You follow: deepfake, llm. "
                           "Alerts about llm arrive in this topic.")
    d.publish("t6", "Tencent Hunyuan chatbot tops app charts")
    assert alert(d, "Hunyuan").thread_id == NEW_TOPIC
    general = say(d, "/follow llm")
    assert general.thread_id is None and general.plain.endswith(
        "Alerts about llm arrive in General.")
    d.publish("t7", "iFlytek launches Spark 5 large language model")
    assert alert(d, "Spark 5").thread_id is None
