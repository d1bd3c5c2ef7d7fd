"""The fake Bot API server behaves like Telegram for the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import Iterator

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.fake_telegram import FakeTelegram, HtmlError, parse_telegram_html


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as tg:
        yield tg


def make_bot(fake: FakeTelegram, read_timeout: float = 5.0) -> Bot:
    return Bot(fake.token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot",
               request=HTTPXRequest(read_timeout=read_timeout, connect_timeout=2.0))


def run(coro_fn):  # type: ignore[no-untyped-def]
    """Run an async test body with a fresh bot (PTB bots need initialize/shutdown)."""
    return asyncio.run(coro_fn())


def test_html_parser_accepts_telegram_whitelist_and_entities() -> None:
    text = ('<b>bold</b> <i>i</i> <a href="https://x.test/?a=1&amp;b=2">link</a> '
            '<span class="tg-spoiler">s</span> <code>c</code> &lt;&gt;&amp;&quot;&#39;&#x4e2d;')
    assert parse_telegram_html(text) == "bold i link s c <>&\"'中"


@pytest.mark.parametrize("bad", [
    "<script>alert(1)</script>", "<b>open", "<b><i>x</b></i>", "a & b", "1 < 2",
    "&nbsp;", "<a>no href</a>", '<span class="x">s</span>', "</b>",
])
def test_html_parser_rejects_what_telegram_rejects(bad: str) -> None:
    with pytest.raises(HtmlError):
        parse_telegram_html(bad)


def test_send_message_is_recorded_with_parse_mode_and_keyboard(fake: FakeTelegram) -> None:
    async def body() -> None:
        async with make_bot(fake) as bot:
            me = await bot.get_me()
            assert me.username == "newsbot_test_bot"
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Follow", callback_data="f:llm")]])
            msg = await bot.send_message(42, "<b>hi</b> &amp; bye", parse_mode="HTML",
                                         reply_markup=keyboard)
            assert msg.chat.id == 42 and msg.text == "hi & bye"
    run(body)
    [sent] = fake.messages_to(42)
    assert sent.text == "<b>hi</b> &amp; bye" and sent.parse_mode == "HTML"
    assert sent.buttons() == [("Follow", "f:llm")]


def test_bad_html_is_refused_like_telegram(fake: FakeTelegram) -> None:
    async def body() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await bot.send_message(1, "<blink>x</blink>", parse_mode="HTML")
            # The same text as plain text is fine.
            await bot.send_message(1, "<blink>x</blink>")
    run(body)
    assert [m.text for m in fake.messages_to(1)] == ["<blink>x</blink>"]


def test_length_limit_counts_text_after_entity_parsing(fake: FakeTelegram) -> None:
    async def body() -> None:
        async with make_bot(fake) as bot:
            # 4096 visible characters wrapped in markup is allowed ...
            await bot.send_message(1, "<b>" + "&amp;" * 4096 + "</b>", parse_mode="HTML")
            # ... one more is not.
            with pytest.raises(BadRequest, match="(?i)message is too long"):
                await bot.send_message(1, "x" * 4097)
    run(body)
    assert len(fake.messages_to(1)) == 1


def test_injected_failures_map_to_ptb_exceptions(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", kind="429", retry_after=7, chat_id=5)
    fake.fail("sendMessage", kind="403", chat_id=6)
    fake.fail("sendMessage", kind="400_parse", chat_id=7)
    fake.fail("sendMessage", kind="500", chat_id=8)

    async def body() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(5, "x")
            assert info.value.retry_after == dtm.timedelta(seconds=7)
            with pytest.raises(Forbidden):
                await bot.send_message(6, "x")
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await bot.send_message(7, "x")
            with pytest.raises(NetworkError):
                await bot.send_message(8, "x")
            # Each rule fires once: the next call succeeds.
            await bot.send_message(5, "again")
    run(body)
    assert [m.chat_id for m in fake.sent] == [5]
    assert fake.injected == {"429": 1, "403": 1, "400_parse": 1, "500": 1}


def test_hang_makes_the_client_time_out(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", kind="hang", hang_seconds=5)

    async def body() -> None:
        async with make_bot(fake, read_timeout=0.3) as bot:
            with pytest.raises(TimedOut):
                await bot.send_message(1, "x")
    started = time.monotonic()
    run(body)
    fake.release_hangs()
    assert time.monotonic() - started < 3
    assert fake.sent == []


def test_get_updates_long_polls_until_a_message_arrives(fake: FakeTelegram) -> None:
    async def body() -> None:
        async with make_bot(fake) as bot:
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, fake.user_sends, 42, "/start")
            started = time.monotonic()
            updates = await bot.get_updates(timeout=5)
            waited = time.monotonic() - started
            assert 0.2 < waited < 3
            [update] = updates
            assert update.message.text == "/start"
            assert update.message.entities[0].type == "bot_command"
            assert update.effective_user.id == 42
            # Confirming with offset drops it; an empty poll returns after its timeout.
            assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    run(body)
    assert fake.pending_updates() == 0


def test_group_channel_and_callback_updates(fake: FakeTelegram) -> None:
    fake.user_sends(-100, "/start@newsbot_test_bot", user_id=7, kind="supergroup", title="G")
    fake.user_sends(-200, "/start", kind="channel", title="C")

    async def body() -> None:
        async with make_bot(fake) as bot:
            group, channel = await bot.get_updates(timeout=1)
            assert group.effective_chat.type == "supergroup"
            assert group.effective_user.id == 7
            assert channel.channel_post is not None and channel.effective_chat.type == "channel"
            sent = await bot.send_message(-100, "pick",
                                          reply_markup=InlineKeyboardMarkup(
                                              [[InlineKeyboardButton("A", callback_data="a")]]))
            fake.user_clicks(-100, sent.message_id, "a", user_id=7)
            [click] = await bot.get_updates(offset=channel.update_id + 1, timeout=1)
            assert click.callback_query.data == "a"
            await click.callback_query.answer("ok")
            await bot.edit_message_text("picked", chat_id=-100, message_id=sent.message_id)
    run(body)
    assert fake.callback_answers[0]["text"] == "ok"
    assert fake.sent[-1].method == "editMessageText" and fake.sent[-1].text == "picked"


def test_set_my_commands_is_stored_and_validated(fake: FakeTelegram) -> None:
    async def body() -> None:
        async with make_bot(fake) as bot:
            await bot.set_my_commands([BotCommand("start", "Subscribe"), BotCommand("help", "Help")])
            assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
            with pytest.raises(BadRequest):
                await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    run(body)


def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    from telegram.error import InvalidToken

    async def body() -> None:
        with pytest.raises(InvalidToken):
            async with Bot("999:wrong", base_url=f"{fake.url}/bot"):
                pass
    run(body)


def test_flood_limits_give_429_when_enforced() -> None:
    with FakeTelegram(flood_limits=True, global_per_second=5) as fake:
        async def body() -> None:
            async with make_bot(fake) as bot:
                for chat in range(5):
                    await bot.send_message(chat, "ok")
                with pytest.raises(RetryAfter):
                    await bot.send_message(99, "too many this second")
                with pytest.raises(RetryAfter):
                    await bot.send_message(0, "same chat again")  # also 1/s per chat
        run(body)
        assert fake.flood_429s == 2
        assert len(fake.sent) == 5
