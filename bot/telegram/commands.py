"""Telegram command handlers: parse the arguments, call the store, reply. Thin on purpose.

Every handler replies with a message from `bot.render`, in the chat's language (its /lang,
else its user's Telegram language); bad arguments get `Usage: …`; admin commands check the
user id first and do nothing else for anyone else. What a chat changes about itself
(follows, digest, language, weekly brief) is in chats.py and weekly.py, /trends in trends.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.errors import ConfigError
from bot.render.i18n import EN, LANGUAGES, Tr, language_of, translator
from bot.render.replies import (
    ADMIN_COMMANDS,
    COMMANDS,
    plain,
    render_help,
    render_lists,
    render_recent,
    render_search,
    render_start,
    render_stats,
    render_status,
)
from bot.render.text import MAX_CHARS, RenderedMessage, cut
from bot.run.configuration import describe_change
from bot.store.search import SearchError
from bot.telegram.access import CHANGES, may_change
from bot.telegram.buttons import Buttons, MutedCommand
from bot.telegram.channels import ChannelCommand
from bot.telegram.chats import apply_follow, digest_reply, follow_usage, lang_reply
from bot.telegram.filings import FilingsCommand
from bot.telegram.topics import topic_of
from bot.telegram.trends import (
    empty_period,
    parse_trends_args,
    resolve,
    trend_chart,
    trends_caption,
    usage,
)
from bot.telegram.weekly import weekly_reply

log = logging.getLogger(__name__)

RECENT_DEFAULT = 5
RECENT_MAX = 20
SEARCH_MAX = 10
REPLY_ATTEMPTS = 3
# Commands arrive as messages in private chats and groups, as posts in channels.
UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


def search_usage(tr: Tr) -> str:
    return tr._('Usage: /search <words> — e.g. /search Ernie model, /search 智谱 since:30d, '
                '/search "open source" list:llm, /search entity:zhipu')


class RuntimeLike(Protocol):
    """What the handlers need of bot.run.runtime.Runtime."""

    config: Any

    def reload(self) -> Any: ...


@dataclass
class Services:
    """What the handlers work with, wired once by the composition root."""

    store: Any  # bot.store.Store
    runtime: RuntimeLike
    admins: frozenset[int] = frozenset()
    worker: Any = None  # bot.telegram.deliver.DeliveryWorker, for /stats
    last_cycle: datetime | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    key: bytes = b""  # signs the buttons under alerts (bot/telegram/buttons.py)

    @property
    def watchlists(self) -> Any:
        return self.runtime.config.watchlists

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A blocking call (SQLite) off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def bot_commands(*, admin: bool = False, tr: Tr = EN) -> list[BotCommand]:
    """The command menu registered with setMyCommands, in one language."""
    return [BotCommand(name, tr._(text))
            for name, text in COMMANDS + (ADMIN_COMMANDS if admin else ())]


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE, message: RenderedMessage) -> None:
    """Send a rendered reply to the update's chat; plain text if Telegram refuses the HTML."""
    chat = update.effective_chat
    if chat is None:
        return
    markup = None
    if message.buttons:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                        for b in row] for row in message.buttons])
    kwargs: dict[str, Any] = {"reply_markup": markup,
                              "link_preview_options": LinkPreviewOptions(is_disabled=True)}
    topic = topic_of(update)
    if topic is not None and topic.thread_id is not None:  # answer inside the forum topic
        kwargs["message_thread_id"] = topic.thread_id
    for attempt in range(REPLY_ATTEMPTS):
        try:
            try:
                await context.bot.send_message(chat.id, message.html, parse_mode=ParseMode.HTML,
                                               **kwargs)
            except BadRequest as exc:
                if "parse entities" not in str(exc).lower():
                    raise
                log.warning("chat %s: reply HTML refused (%s); sending plain text", chat.id, exc)
                await context.bot.send_message(chat.id, message.plain, **kwargs)
            return
        except (TimedOut, NetworkError) as exc:
            # A dropped connection must not swallow a user's answer: try again shortly (a
            # reply is not queued in the outbox; a second copy after a timeout is the lesser
            # harm than none). BadRequest is a NetworkError too, and final.
            if isinstance(exc, BadRequest) or attempt == REPLY_ATTEMPTS - 1:
                raise
            log.info("chat %s: reply failed (%s); trying again", chat.id, exc)
            await asyncio.sleep(0.5 * (attempt + 1))


def parse_recent_args(args: Sequence[str]) -> tuple[int, str | None]:
    """(n, scope word) from `/recent [n] [list|entity]`; ValueError when malformed."""
    n: int | None = None
    scope: str | None = None
    for arg in args:
        if arg.lstrip("-").isdigit():
            if n is not None:
                raise ValueError("two numbers")
            n = int(arg)
            if n < 1:
                raise ValueError("n must be at least 1")
        elif scope is None:
            scope = arg
        else:
            raise ValueError("more than one list or entity")
    return min(n or RECENT_DEFAULT, RECENT_MAX), scope


class Commands:
    """The bot's handlers, bound to its services."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.buttons = Buttons(services, reply, self._tr, services.key)

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """Every handler, in the order they must be tried (unknown commands last)."""
        table: list[tuple[str, Callable[..., Any]]] = [
            ("start", self.start), ("stop", self.stop), ("help", self.help),
            ("recent", self.recent), ("search", self.search), ("lists", self.lists),
            ("follow", self.follow), ("unfollow", self.unfollow), ("status", self.status),
            ("trends", self.trends), ("weekly", self.weekly), ("lang", self.lang),
            ("filings", FilingsCommand(self.s, reply, resolve, self._tr)),
            ("muted", MutedCommand(self.buttons)),
            ("channel", ChannelCommand(self.s, reply, resolve, self._tr)),
            ("digest", self.digest), ("reload", self.reload), ("stats", self.stats),
        ]
        handlers: list[BaseHandler[Any, Any, Any]] = [
            CommandHandler(name, self._guarded(name, fn) if name in CHANGES else fn,
                           filters=UPDATES) for name, fn in table]
        handlers += self.buttons.handlers()
        handlers.append(MessageHandler(filters.COMMAND & UPDATES, self.unknown))
        return handlers

    # -- helpers
    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.s.admins

    async def _refuse(self, update: Update, context: ContextTypes.DEFAULT_TYPE, name: str,
                      tr: Tr) -> None:
        log.info("refused /%s for user %s", name, getattr(update.effective_user, "id", "?"))
        await reply(update, context, plain(
            tr._("Sorry, /{name} is for the bot's admins only.").format(name=name)))

    def _guarded(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, for a group's administrators only (anyone in a private chat)."""
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if await may_change(update, context.bot):
                await fn(update, context)
                return
            log.info("refused /%s in chat %s: not an administrator", name,
                     update.effective_chat.id if update.effective_chat else "?")
            await self._say(update, context, (await self._tr(update))._(
                "Only this group's administrators can change what it receives."))
        return guarded

    async def _store(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _tr(self, update: Update) -> Tr:
        """The chat's language: its own choice (/lang), else its user's Telegram language."""
        chat = update.effective_chat
        sub = await self._store(self.s.store.subscribers.get, chat.id) if chat else None
        if sub is not None and sub.lang in LANGUAGES:
            return translator(sub.lang)
        user = update.effective_user
        return translator(language_of(user.language_code if user else None))

    async def _say(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        await reply(update, context, plain(text))

    # -- subscribers
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Subscribe this chat and say what it will receive, in its user's language."""
        chat = update.effective_chat
        assert chat is not None
        user = update.effective_user
        title = chat.title or chat.username or chat.first_name
        new = await self._store(self.s.store.subscribers.subscribe, chat.id, chat.type, title,
                                self.s.clock(),
                                lang=language_of(user.language_code) if user else None)
        tr = await self._tr(update)
        sub = await self._store(self.s.store.subscribers.get, chat.id)
        log.info("chat %s (%s) subscribed%s", chat.id, chat.type, "" if new else " again")
        await reply(update, context, render_start(
            new=new, follows=sub.follows if sub else (),
            lists=[wl.id for wl in self.s.watchlists.lists], tr=tr))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Unsubscribe this chat."""
        chat = update.effective_chat
        assert chat is not None
        tr = await self._tr(update)
        was = await self._store(self.s.store.subscribers.unsubscribe, chat.id, self.s.clock())
        await self._say(update, context, tr._(
            "Unsubscribed: no more alerts here. /start subscribes again.") if was
            else tr._("This chat was not subscribed. /start subscribes it."))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the commands."""
        await reply(update, context, render_help(is_admin=self._is_admin(update),
                                                 tr=await self._tr(update)))

    async def lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The chat's language: /lang zh | /lang en; the command menu follows it."""
        chat = update.effective_chat
        assert chat is not None
        text = await self._store(lang_reply, self.s.store, chat.id, context.args or [],
                                   self.s.clock(), await self._tr(update))
        await self._say(update, context, text)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Point unknown commands to /help."""
        message = update.effective_message
        chat = update.effective_chat
        word = (message.text or "").split()[0] if message and message.text else "/?"
        _, _, addressee = word.partition("@")
        ours = addressee.casefold() == (context.bot.username or "").casefold()
        # In a group, a bare unknown command may be another bot's: answer only when named.
        if (addressee and not ours) or (chat is not None and chat.type != "private"
                                         and not addressee):
            return
        tr = await self._tr(update)
        await self._say(update, context,
                        tr._("Unknown command {word}. See /help.").format(word=cut(word, 40)))

    # -- reading
    async def recent(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Latest matched items, optionally of one list or entity."""
        tr = await self._tr(update)
        usage_line = tr._("Usage: /recent [n] [list|entity] — e.g. /recent 10 llm (n ≤ 20; "
                          "see /lists)")
        try:
            n, word = parse_recent_args(context.args or [])
        except ValueError:
            await self._say(update, context, usage_line)
            return
        scope = resolve(self.s.watchlists, word) if word else None
        if word and scope is None:
            await self._say(update, context, tr._("Unknown list or entity “{word}”.").format(
                word=cut(word, 60)) + "\n" + usage_line)
            return
        list_id = scope[1] if scope and scope[0] == "list" else None
        entity = scope[1] if scope and scope[0] == "entity" else None
        items = await self._store(self.s.store.stories.recent, n, list_id=list_id, entity=entity)
        await reply(update, context, render_recent(
            items, [i.hits for i in items], self.s.watchlists,
            scope=scope[1] if scope else None, tr=tr))

    async def search(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stored stories whose items contain every word (full-text, Chinese included)."""
        tr = await self._tr(update)
        words = " ".join(context.args or []).strip()
        if not words:
            await self._say(update, context, search_usage(tr))
            return
        try:
            items = await self._store(self.s.store.search.find, words, SEARCH_MAX,
                                      now=self.s.clock())
        except SearchError as exc:
            await self._say(update, context, f"{exc.translated(tr._)}\n{search_usage(tr)}")
            return
        await reply(update, context, render_search(words, items, [i.hits for i in items],
                                                   self.s.watchlists, tr))

    async def lists(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Watchlists and their entities, with follow buttons."""
        chat = update.effective_chat
        assert chat is not None
        sub = await self._store(self.s.store.subscribers.get, chat.id)
        await reply(update, context, render_lists(self.s.watchlists,
                                                  follows=sub.follows if sub else (),
                                                  tr=await self._tr(update)))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Feed health summary."""
        health = await self._store(self.s.store.feeds.health, self.s.runtime.config.feeds.feeds)
        last = self.s.last_cycle
        if last is None:
            states = await self._store(self.s.store.feeds.states)
            attempts = [s.last_attempt for s in states.values() if s.last_attempt]
            last = max(attempts) if attempts else None
        await reply(update, context, render_status(health, last_cycle=last, now=self.s.clock(),
                                                   tr=await self._tr(update)))

    async def trends(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A chart of stories per entity over 7, 30 or 90 days, with the change against before."""
        chat = update.effective_chat
        tr = await self._tr(update)
        parsed = parse_trends_args(context.args or [], self.s.watchlists, tr)
        if chat is None or isinstance(parsed, str):
            await self._say(update, context, parsed if isinstance(parsed, str) else usage(tr))
            return
        days, list_id, entities = parsed
        trend, png = await asyncio.to_thread(trend_chart, self.s.store, self.s.watchlists,
                                             days, list_id, entities, self.s.clock(), tr)
        if png is None:
            await self._say(update, context, empty_period(days, list_id, entities, tr))
            return
        await context.bot.send_photo(chat.id, photo=png,
                                     caption=cut(trends_caption(trend, days, tr), 1024))

    # -- follows
    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Receive only the followed lists/entities."""
        await self._change_follow(update, context, follow=True)

    async def unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop following a list or entity."""
        await self._change_follow(update, context, follow=False)

    async def _change_follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE, *,
                             follow: bool) -> None:
        tr = await self._tr(update)
        usage_line = follow_usage("follow" if follow else "unfollow", tr)
        args = context.args or []
        if len(args) != 1:
            await self._say(update, context, usage_line)
            return
        scope = resolve(self.s.watchlists, args[0])
        if scope is None:
            await self._say(update, context, tr._("Unknown list or entity “{word}”.").format(
                word=cut(args[0], 60)) + "\n" + usage_line)
            return
        chat = update.effective_chat
        assert chat is not None
        await self._say(update, context, await self._store(
            apply_follow, self.s.store, self.s.watchlists, chat.id, scope, follow,
            self.s.clock(), tr, topic_of(update)))

    # -- digests and briefs
    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Daily digest instead of immediate alerts: /digest daily HH:MM [time zone] | off."""
        chat = update.effective_chat
        assert chat is not None
        await self._say(update, context, await self._store(
            digest_reply, self.s.store, chat.id, context.args or [], self.s.clock(),
            await self._tr(update)))

    async def weekly(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A weekly brief: /weekly on [day] [HH:MM] [time zone] | off."""
        chat = update.effective_chat
        assert chat is not None
        await self._say(update, context, await self._store(
            weekly_reply, self.s.store, chat.id, context.args or [], self.s.clock(),
            await self._tr(update)))

    # -- admins
    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """(Admins) re-read rules and feeds; say what changed or list the errors."""
        tr = await self._tr(update)
        if not self._is_admin(update):
            await self._refuse(update, context, "reload", tr)
            return
        old = self.s.runtime.config
        try:
            new = await asyncio.to_thread(self.s.runtime.reload)
        except ConfigError as exc:
            lines = [str(p) for p in exc.problems]
            await self._say(update, context, cut(
                tr._("Reload failed; still running the previous configuration.") + "\n"
                + "\n".join(lines), MAX_CHARS))
            return
        await self._say(update, context, cut(describe_change(old, new), MAX_CHARS))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """(Admins) subscribers, items, alerts sent, queue."""
        tr = await self._tr(update)
        if not self._is_admin(update):
            await self._refuse(update, context, "stats", tr)
            return
        stats = await self._store(self.s.store.stats)
        queue = self.s.worker.stats.as_dict() if self.s.worker is not None else None
        await reply(update, context, render_stats(stats, queue=queue, tr=tr))


async def register_commands(bot: Any, admins: Sequence[int]) -> None:
    """setMyCommands: the public menu in English and in Chinese (for users whose Telegram
    speaks Chinese), and the admin menu in each admin's private chat."""
    from telegram import BotCommandScopeChat

    await bot.set_my_commands(bot_commands())
    await bot.set_my_commands(bot_commands(tr=translator("zh")), language_code="zh")
    for admin in admins:
        try:
            await bot.set_my_commands(bot_commands(admin=True), scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # the admin never opened a chat with the bot
            log.info("admin menu for %s not set: %s", admin, exc)
