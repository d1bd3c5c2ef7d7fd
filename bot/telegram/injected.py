"""A command handler kept outside `Commands` (bot/telegram/commands.py), as /filings and
/channel are: it is handed what it needs of the commands module, which it cannot import
(that module imports it), once, at registration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.render.i18n import Tr
from bot.render.text import RenderedMessage

Reply = Callable[[Update, ContextTypes.DEFAULT_TYPE, RenderedMessage], Awaitable[None]]
Resolve = Callable[[Any, str], "tuple[str, str] | None"]


class InjectedCommand:
    """A handler bound to the bot's services, its `reply` (HTML with a plain-text fallback),
    `resolve` (list and entity names → ids) and `language` (the chat's translator)."""

    def __init__(self, services: Any, reply: Reply, resolve: Resolve,
                 language: Callable[[Update], Awaitable[Tr]]) -> None:
        self.services = services
        self.reply = reply
        self.resolve = resolve
        self.language = language
