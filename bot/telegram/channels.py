"""/channel add @name|id [list…] | remove @name|id | list: channels, added from a private chat.

A channel cannot send /start, so one of its administrators adds it in a private chat with
the bot. Before subscribing, the bot asks Telegram (getChatMember) whether it may post there
and whether the user administers the channel, and says exactly what is missing. Its alerts
then go through the outbox like any chat's, at a group's pace. `bot.telegram.commands`
registers a `ChannelCommand` and hands it `reply` and `resolve`, as for /filings.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.render.i18n import Tr
from bot.render.replies import plain
from bot.render.text import cut
from bot.telegram.access import ADMIN_STATUSES, is_admin
from bot.telegram.injected import InjectedCommand

log = logging.getLogger(__name__)

_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
_LINK = re.compile(r"^(?:https?://)?t(?:elegram)?\.me/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    """/channel's arguments read: what to do, to which channel, with which follows."""

    action: str  # "add", "remove" or "list"
    target: str | int | None = None  # "@name" or a chat id (-100…)
    scopes: tuple[str, ...] = ()  # the lists or entities to follow, as typed


def channel_ref(word: str) -> str | int:
    """A channel as typed ("@name", "name", "t.me/name", "-100…") → "@name" or its id;
    ValueError when it is neither."""
    word = _LINK.sub("", word.strip()).rstrip("/")
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    name = word.removeprefix("@")
    if not _USERNAME.fullmatch(name):
        raise ValueError(f"not a channel: {word!r}")
    return f"@{name}"


def parse_channel_args(args: Sequence[str]) -> ChannelRequest:
    """The request of `/channel add @name|id [list…] | remove @name|id | list`; ValueError
    when malformed. Lists may also be separated by commas."""
    words = [w for arg in args for w in arg.replace(",", " ").split()]
    if not words:
        raise ValueError("no action")
    action = words[0].casefold()
    if action == "list" and len(words) == 1:
        return ChannelRequest("list")
    if action == "add" and len(words) >= 2:
        return ChannelRequest("add", channel_ref(words[1]), tuple(words[2:]))
    if action == "remove" and len(words) == 2:
        return ChannelRequest("remove", channel_ref(words[1]))
    raise ValueError("malformed /channel arguments")


def usage(tr: Tr) -> str:
    return tr._("Usage: /channel add @name|id [list…] | /channel remove @name|id | "
                "/channel list — e.g. /channel add @my_channel llm")


def handle_of(chat: Any) -> str:
    """How a reply names a channel: its @name, else its title, else its id."""
    username = getattr(chat, "username", None)
    return f"@{username}" if username else (getattr(chat, "title", None) or str(chat.id))


def can_post(member: Any) -> bool:
    """Whether the bot's membership lets it post in a channel."""
    return (getattr(member, "status", None) == "administrator"
            and bool(getattr(member, "can_post_messages", False)))


def added_reply(handle: str, follows: Sequence[str], new: bool, tr: Tr) -> str:
    """What /channel add says once the channel is subscribed."""
    if follows and new:
        text = tr._("Added {channel}: alerts about {follows} will be posted there. "
                    "/channel remove {channel} stops them.")
    elif follows:
        text = tr._("{channel} was added before; from now on alerts about {follows} will be "
                    "posted there. /channel remove {channel} stops them.")
    elif new:
        text = tr._("Added {channel}: every alert of every watchlist will be posted there. "
                    "/channel remove {channel} stops them.")
    else:
        text = tr._("{channel} was added before; from now on every alert of every watchlist "
                    "will be posted there. /channel remove {channel} stops them.")
    return text.format(channel=handle, follows=tr.join(follows))


def list_reply(channels: Sequence[Any], tr: Tr) -> str:
    """What /channel list says: the channels this user added and what they follow."""
    if not channels:
        return tr._("You have not added a channel. /channel add @name [list…] adds one where "
                    "I am an administrator allowed to post messages.")
    everything = tr._("every watchlist")
    lines = [tr._("Channels you added:")]
    lines += [f"{c.handle} — {tr.join(c.follows) if c.follows else everything}"
              for c in channels]
    return "\n".join(lines)


class ChannelCommand(InjectedCommand):
    """The /channel handler, bound to the bot's services."""

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Add, remove or list the channels that receive alerts."""
        tr = await self.language(update)
        text = await self.answer(update, context.bot, context.args or [], tr)
        await self.reply(update, context, plain(cut(text, 4096)))

    async def answer(self, update: Update, bot: Any, args: Sequence[str], tr: Tr) -> str:
        """The reply to one /channel command (changing the store when allowed)."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or chat.type != "private" or user is None:
            return tr._("Channels are added in a private chat: send /channel to me there "
                        "(tap my name, then Message).")
        try:
            request = parse_channel_args(args)
        except ValueError:
            return usage(tr)
        store = self.services.store
        if request.action == "list":
            return list_reply(await asyncio.to_thread(store.channels.added_by, user.id), tr)
        assert request.target is not None
        if request.action == "add":
            return await self._add(bot, user.id, request, tr)
        return await self._remove(bot, user.id, request.target, tr)

    async def _add(self, bot: Any, user_id: int, request: ChannelRequest, tr: Tr) -> str:
        follows: list[str] = []
        for word in request.scopes:
            scope = self.resolve(self.services.watchlists, word)
            if scope is None:
                return (tr._("Unknown list or entity “{word}”.").format(word=cut(word, 60))
                        + "\n" + usage(tr))
            follows.append(scope[1])
        target = str(request.target)
        channel = await _get_channel(bot, request.target)
        if channel is None:
            return not_found(target, tr)
        if channel.type != "channel":
            return tr._("{name} is not a channel. For a group, add me to it and send /start "
                        "there.").format(name=handle_of(channel))
        handle = handle_of(channel)
        if not can_post(await _membership(bot, channel.id, bot.id)):
            return tr._("Add me as an administrator of {channel} with the right to post "
                        "messages, then send /channel add {channel} again.").format(
                            channel=handle)
        if not await is_admin(bot, channel.id, user_id):
            return tr._("Only an administrator of {channel} can add it to newsbot. Ask one of "
                        "them to send /channel add {channel} here.").format(channel=handle)
        store = self.services.store
        new = await asyncio.to_thread(
            store.channels.add, channel.id, title=channel.title, username=channel.username,
            added_by=user_id, follows=follows, lang=tr.lang, now=self.services.clock())
        log.info("channel %s added by user %s, following %s", channel.id, user_id,
                 follows or "everything")
        return added_reply(handle, sorted(set(follows)), new, tr)

    async def _remove(self, bot: Any, user_id: int, target: str | int, tr: Tr) -> str:
        store = self.services.store
        channel = await _get_channel(bot, target)
        if channel is None:
            # Telegram no longer shows it to us (the bot was removed): the user who added
            # it may still remove it.
            mine = await asyncio.to_thread(store.channels.added_by, user_id)
            ours = next((c for c in mine if target in (c.chat_id, c.handle)), None)
            if ours is None:
                return not_found(str(target), tr)
            chat_id, handle, member = ours.chat_id, ours.handle, None
        else:
            chat_id, handle = channel.id, handle_of(channel)
            member = await _membership(bot, chat_id, user_id)
        subscribed = await asyncio.to_thread(store.channels.get, chat_id)
        if subscribed is None:
            return tr._("{channel} does not receive alerts: nothing to remove.").format(
                channel=handle)
        # Its administrators may; when Telegram cannot tell, the one who added it.
        allowed = (getattr(member, "status", None) in ADMIN_STATUSES if member is not None
                   else subscribed.added_by == user_id)
        if not allowed:
            return tr._("Only an administrator of {channel} can remove it.").format(
                channel=handle)
        await asyncio.to_thread(store.subscribers.unsubscribe, chat_id, self.services.clock())
        log.info("channel %s removed by user %s", chat_id, user_id)
        return tr._("Removed {channel}: no more alerts are posted there.").format(channel=handle)


def not_found(target: str, tr: Tr) -> str:
    return tr._("I cannot find the channel {name}. Use its @name or its id (-100…), and add "
                "me to it as an administrator first.").format(name=cut(target, 60))


async def _get_channel(bot: Any, target: str | int | None) -> Any:
    """The chat Telegram knows by this @name or id; None when it does not show it to us."""
    try:
        return await bot.get_chat(target)
    except TelegramError as exc:
        log.info("getChat %s: %s", target, exc)
        return None


async def _membership(bot: Any, chat_id: int, user_id: int) -> Any:
    """getChatMember, or None when Telegram cannot tell."""
    try:
        return await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("chat %s: could not check user %s's rights: %s", chat_id, user_id, exc)
        return None
