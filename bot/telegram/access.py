"""Who may change what a chat receives: anyone in a private chat, the channel itself in a
channel, and in a group only its administrators (an anonymous admin posting as the group
included). Asked of Telegram (getChatMember) at each change, never remembered: admins
change."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import TelegramError

log = logging.getLogger(__name__)

# Commands that change what a chat receives, or how
CHANGES = frozenset({"start", "stop", "follow", "unfollow", "digest", "lang", "weekly"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})


async def may_change(update: Update, bot: Any) -> bool:
    """True when the update's sender may change its chat's settings."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type in ("private", "channel"):  # a channel's posts come from its admins
        return True
    message = update.effective_message
    sender_chat = getattr(message, "sender_chat", None) if message else None
    if sender_chat is not None and sender_chat.id == chat.id:
        return True  # an anonymous administrator, posting as the group
    user = update.effective_user
    if user is None:
        return False
    return await is_admin(bot, chat.id, user.id)


async def is_admin(bot: Any, chat_id: int | str, user_id: int) -> bool:
    """Whether the user administers the chat; False when Telegram cannot tell."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("chat %s: could not check user %s's rights: %s", chat_id, user_id, exc)
        return False
    return member.status in ADMIN_STATUSES
