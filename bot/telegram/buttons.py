"""Inline buttons: the /lists pages and follow buttons, and the buttons under each alert
("Mute Baidu 7 d" with its undo, the story's other sources), and /muted.

An alert's button carries `kind:value:signature`, the signature an HMAC of the chat, kind
and value under a key derived from the bot's token. Telegram lets a client send any data
for a message's buttons, so nothing in it is trusted: a forged or foreign signature, an
unknown entity or story, or, in a group or channel, a press by someone who does not
administer it changes nothing and gets a short refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.render.alerts import MUTE_DAYS, mute_button, render_sources
from bot.render.i18n import Tr
from bot.render.replies import plain, render_lists
from bot.render.text import Button, RenderedMessage, cut
from bot.telegram.access import is_admin
from bot.telegram.chats import apply_follow
from bot.telegram.trends import resolve

log = logging.getLogger(__name__)

SIGNATURE_CHARS = 12  # 48 bits: guessing one takes ~10^14 tries through Telegram
MAX_DATA = 64  # Telegram's limit on callback data, in bytes
Language = Callable[[Update], Awaitable[Tr]]
Reply = Callable[[Update, ContextTypes.DEFAULT_TYPE, RenderedMessage], Awaitable[None]]


def button_key(token: str) -> bytes:
    """The signing key of a bot's buttons (from its token: a new token, new signatures)."""
    return hashlib.sha256(b"newsbot buttons\0" + token.encode()).digest()


def sign(key: bytes, chat_id: int, kind: str, value: str) -> str | None:
    """A button's callback data for this chat; None when it would exceed Telegram's 64 bytes."""
    mac = hmac.new(key, f"{chat_id}:{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    data = f"{kind}:{value}:{mac[:SIGNATURE_CHARS]}"
    return data if len(data.encode()) <= MAX_DATA else None


def verify(key: bytes, chat_id: int, data: str) -> tuple[str, str] | None:
    """(kind, value) of callback data signed for this chat; None when it was not."""
    kind, _, rest = data.partition(":")
    value, _, mac = rest.rpartition(":")
    if not (kind and value and mac):
        return None
    expected = sign(key, chat_id, kind, value)
    return (kind, value) if expected is not None and hmac.compare_digest(expected, data) else None


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                  for b in row] for row in rows])


def replaced(markup: Any, old: str, new: Button) -> tuple[tuple[Button, ...], ...]:
    """A message's keyboard with the button whose data is `old` replaced by `new`."""
    rows = []
    for row in (markup.inline_keyboard if markup else ()):
        rows.append(tuple(new if b.callback_data == old else Button(b.text, b.callback_data)
                          for b in row))
    return tuple(rows)


class Buttons:
    """The callback query handlers, bound to the bot's services."""

    def __init__(self, services: Any, reply: Reply, language: Language, key: bytes) -> None:
        self.s = services
        self.reply = reply
        self.language = language
        self.key = key

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """The /lists buttons and the alert buttons; other callback data is ignored."""
        return [CallbackQueryHandler(self.lists, pattern=r"^(lists|follow|unfollow):"),
                CallbackQueryHandler(self.alert, pattern=r"^[mus]:")]

    def data_for(self, chat_id: int) -> Callable[[str, str], str | None]:
        """The signer of one chat's buttons (render/alerts.py CallbackData)."""
        return lambda kind, value: sign(self.key, chat_id, kind, value)

    async def lists(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Inline buttons of /lists: page through, follow or unfollow a list."""
        query = update.callback_query
        assert query is not None and query.data is not None
        action, _, rest = query.data.partition(":")
        chat_id = query.message.chat.id if query.message else None
        if chat_id is None:
            await query.answer()
            return
        tr = await self.language(update)
        page, note = 0, None
        if action == "lists":
            page = int(rest) if rest.isdigit() else 0
        elif not await self._may_press(update, context):
            await query.answer(tr._("Only this chat's administrators can change what it "
                                    "receives."), show_alert=True)
            return
        else:
            ident, _, page_text = rest.partition(":")
            page = int(page_text) if page_text.isdigit() else 0
            scope = resolve(self.s.watchlists, ident)
            note = (tr._("Unknown list") if scope is None else await self.s.run(
                apply_follow, self.s.store, self.s.watchlists, chat_id, scope,
                action == "follow", self.s.clock(), tr))
        sub = await self.s.run(self.s.store.subscribers.get, chat_id)
        message = render_lists(self.s.watchlists, page=page, follows=sub.follows if sub else (),
                               tr=tr)
        await query.answer(cut(note, 190) if note else None)
        try:
            await query.edit_message_text(message.html, parse_mode=ParseMode.HTML,
                                          reply_markup=keyboard(message.buttons),
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def alert(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button under an alert: mute or unmute an entity here, or show the sources."""
        query = update.callback_query
        assert query is not None and query.data is not None
        message = query.message
        tr = await self.language(update)
        parsed = verify(self.key, message.chat.id, query.data) if message else None
        if message is None or parsed is None:
            log.warning("refused callback data %r in chat %s: not signed for it", query.data,
                        message.chat.id if message else "?")
            await query.answer(tr._("This button is not valid here."), show_alert=True)
            return
        kind, value = parsed
        if kind == "s":
            await self._sources(update, context, int(value) if value.isdigit() else -1, tr)
            return
        info = self.s.watchlists.entity(value)
        if info is None:
            await query.answer(tr._("This button is not valid here."), show_alert=True)
            return
        if not await self._may_press(update, context):
            await query.answer(tr._("Only this chat's administrators can change what it "
                                    "receives."), show_alert=True)
            return
        chat_id, now, name = message.chat.id, self.s.clock(), tr.name(info, value)
        if kind == "m":
            await self.s.run(self.s.store.subscribers.mute, chat_id, value,
                             now + timedelta(days=MUTE_DAYS), now)
            note = tr._("Muted {name} for {days} days here. Tap “Unmute” to undo.").format(
                name=name, days=MUTE_DAYS)
        else:
            await self.s.run(self.s.store.subscribers.unmute, chat_id, value)
            note = tr._("Alerts about {name} arrive here again.").format(name=name)
        log.info("chat %s: %s %s", chat_id, "muted" if kind == "m" else "unmuted", value)
        await query.answer(note)
        swap = mute_button(value, name, self.data_for(chat_id), tr, muted=kind == "m")
        if swap is not None:
            try:
                await query.edit_message_reply_markup(
                    keyboard(replaced(message.reply_markup, query.data, swap)))
            except BadRequest as exc:  # the message is too old to edit: the mute holds
                log.info("chat %s: keyboard not updated: %s", chat_id, exc)

    async def _sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                       story_id: int, tr: Tr) -> None:
        query = update.callback_query
        assert query is not None
        items = await self.s.run(self.s.store.stories.items, story_id)
        if not items:
            await query.answer(tr._("This story is no longer stored."), show_alert=True)
            return
        first = items[0]
        others = (await self.s.run(self.s.store.stories.other_sources,
                                   {(story_id, first.id)})).get((story_id, first.id), ())
        await query.answer()
        await self.reply(update, context, render_sources(first, others, tr))

    async def _may_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Anyone in a private chat; elsewhere the chat's administrators (channel subscribers
        see the buttons too)."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return False
        return chat.type == "private" or await is_admin(context.bot, chat.id, user.id)


class MutedCommand:
    """/muted: the entities muted here, each with a button that lifts the mute."""

    def __init__(self, buttons: Buttons) -> None:
        self.b = buttons

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List this chat's mutes with their unmute buttons."""
        chat = update.effective_chat
        assert chat is not None
        s, tr = self.b.s, await self.b.language(update)
        mutes = await s.run(s.store.subscribers.mutes, chat.id, s.clock())
        if not mutes:
            await self.b.reply(update, context, plain(tr._(
                "Nothing is muted here. The 🔕 button under an alert mutes its company for "
                "{days} days.").format(days=MUTE_DAYS)))
            return
        lines, rows = [tr._("Muted here:")], []
        for entity, until in mutes:
            name = tr.name(s.watchlists.entity(entity), entity)
            lines.append(tr._("• {name} until {when}").format(
                name=name, when=f"{until:%Y-%m-%d %H:%M} UTC"))
            button = mute_button(entity, name, self.b.data_for(chat.id), tr, muted=True)
            if button is not None:
                rows.append((button,))
        await self.b.reply(update, context, replace(plain("\n".join(lines)), buttons=tuple(rows)))
