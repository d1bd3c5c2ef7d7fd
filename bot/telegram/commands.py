"""Telegram command handlers: parse the arguments, call the store, reply. Thin on purpose.

Every handler replies with a message from `bot.render`; bad arguments get `Usage: …`;
admin commands check the user id first and do nothing else for anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.errors import ConfigError
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
from bot.render.trends import Trend, caption, period_trend
from bot.run.configuration import describe_change
from bot.schedule import digest_moment, parse_hhmm, zone_or_utc
from bot.store.search import SearchError
from bot.telegram.filings import FilingsCommand

log = logging.getLogger(__name__)

RECENT_DEFAULT = 5
RECENT_MAX = 20
SEARCH_MAX = 10
SEARCH_USAGE = ('Usage: /search <words> — e.g. /search Ernie model, /search 智谱 since:30d, '
                '/search "open source" list:llm, /search entity:zhipu')
# Commands arrive as messages in private chats and groups, as posts in channels.
UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


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

    @property
    def watchlists(self) -> Any:
        return self.runtime.config.watchlists


def bot_commands(*, admin: bool = False) -> list[BotCommand]:
    """The command menu registered with setMyCommands."""
    return [BotCommand(name, text) for name, text in COMMANDS + (ADMIN_COMMANDS if admin else ())]


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
    try:
        await context.bot.send_message(chat.id, message.html, parse_mode=ParseMode.HTML, **kwargs)
    except BadRequest as exc:
        if "parse entities" not in str(exc).lower():
            raise
        log.warning("chat %s: reply HTML refused (%s); sending plain text", chat.id, exc)
        await context.bot.send_message(chat.id, message.plain, **kwargs)


def resolve(watchlists: Any, word: str) -> tuple[str, str] | None:
    """('list'|'entity', id) for a list id, entity id or entity name, case-insensitively."""
    key = word.strip().casefold()
    for wl in watchlists.lists:
        if wl.id.casefold() == key:
            return "list", wl.id
    for wl in watchlists.lists:
        for e in wl.entities:
            names = [e.id, e.name, getattr(e, "zh", None) or ""]
            if any(n and n.casefold() == key for n in names):
                return "entity", e.id
    return None


TRENDS_USAGE = ("Usage: /trends [7d|30d|90d] [list|entity…] — e.g. /trends 30d, "
                "/trends 90d zhipu baidu, /trends 7d llm")


def parse_trends_args(args: Sequence[str], watchlists: Any
                      ) -> tuple[int, str | None, list[str]] | str:
    """(days, list id, entity ids) of /trends arguments, or the reply that explains them."""
    days, list_id, entities = 30, None, []
    for word in args:
        if m := re.fullmatch(r"(\d{1,3})d", word.strip().lower()):
            days = int(m.group(1))
            if not 1 <= days <= 365:
                return f"{word}: a period from 1d to 365d.\n{TRENDS_USAGE}"
            continue
        found = resolve(watchlists, word)
        if found is None:
            return f"{word}: not a period, list or entity (see /lists).\n{TRENDS_USAGE}"
        kind, ident = found
        if kind == "list":
            list_id = ident
        elif ident not in entities:
            entities.append(ident)
    return days, list_id, entities


def trend_chart(store: Any, watchlists: Any, days: int, list_id: str | None,
                entities: Sequence[str], now: datetime) -> tuple[Trend, bytes | None]:
    """The trend of the period and its PNG chart (None when the period has no story).
    Blocking (SQLite, matplotlib): run it off the event loop."""
    from bot.render.chart import draw_trend

    def name(entity_id: str) -> str:
        info = watchlists.entity(entity_id)
        return info.name if info else entity_id

    trend = period_trend(
        lambda a, b: store.stories.entity_days(a, b, list_id=list_id, entities=entities),
        days=days, now=now, entities=entities, name=name)
    if not any(s.total for s in trend.series):
        return trend, None
    scope = ", ".join(name(e) for e in entities) or list_id or "top entities"
    return trend, draw_trend(trend, f"Stories per entity, last {days} days ({scope})")


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


DIGEST_USAGE = "Usage: /digest daily HH:MM [time zone] | /digest off"


def parse_digest_args(args: Sequence[str]) -> tuple[str, str | None, str | None]:
    """("show" | "off" | "daily", "HH:MM", time zone word) from /digest's arguments.

    ValueError when malformed. The time zone is checked apart (resolve_zone): an unknown
    one deserves its own message, not the usage line.
    """
    words = [a.strip() for a in args if a.strip()]
    if not words:
        return "show", None, None
    mode = words[0].casefold()
    if mode == "off" and len(words) == 1:
        return "off", None, None
    if mode == "daily" and len(words) in (2, 3):
        hours, minutes = parse_hhmm(words[1])
        if hours >= 0:
            return "daily", f"{hours:02d}:{minutes:02d}", words[2] if len(words) == 3 else None
    raise ValueError("malformed /digest arguments")


def resolve_zone(name: str) -> str | None:
    """The IANA time zone name for `name` (letter case forgiven), or None when unknown."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    # Only on a miss: listing the tz database reads a few hundred files.
    folded = name.casefold()
    return next((z for z in sorted(available_timezones()) if z.casefold() == folded), None)


def describe_digest(at: str | None, tz: str, now: datetime) -> str:
    """What /digest says about a chat's setting: when the next digest comes."""
    if at is None:
        return ("Alerts arrive here as soon as they are found. "
                "/digest daily HH:MM [time zone] collects them into one message a day.")
    moment = digest_moment(at, tz, now)
    if moment is not None and moment <= now:
        moment += timedelta(days=1)
    day = moment.astimezone(zone_or_utc(tz)).strftime("%a %d %b") if moment else "?"
    return (f"Digest: one message a day at {at} ({tz}), the next on {day}. "
            "Alerts are collected until then. /digest off sends them as they come again.")


class Commands:
    """The bot's handlers, bound to its services."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """Every handler, in the order they must be tried (unknown commands last)."""
        table: list[tuple[str, Callable[..., Any]]] = [
            ("start", self.start), ("stop", self.stop), ("help", self.help),
            ("recent", self.recent), ("search", self.search), ("lists", self.lists),
            ("follow", self.follow), ("unfollow", self.unfollow), ("status", self.status),
            ("trends", self.trends), ("filings", FilingsCommand(self.s, reply, resolve)),
            ("digest", self.digest), ("reload", self.reload), ("stats", self.stats),
        ]
        handlers: list[BaseHandler[Any, Any, Any]] = [
            CommandHandler(name, fn, filters=UPDATES) for name, fn in table]
        handlers.append(CallbackQueryHandler(self.button, pattern=r"^(lists|follow|unfollow):"))
        handlers.append(MessageHandler(filters.COMMAND & UPDATES, self.unknown))
        return handlers

    # -- helpers
    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.s.admins

    async def _refuse(self, update: Update, context: ContextTypes.DEFAULT_TYPE, name: str) -> None:
        user = update.effective_user
        log.info("refused /%s for user %s", name, user.id if user else "?")
        await reply(update, context, plain(f"Sorry, /{name} is for the bot's admins only."))

    async def _store(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- subscribers
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Subscribe this chat and say what it will receive."""
        chat = update.effective_chat
        assert chat is not None
        title = chat.title or chat.username or chat.first_name
        new = await self._store(self.s.store.subscribers.subscribe, chat.id, chat.type, title,
                                self.s.clock())
        sub = await self._store(self.s.store.subscribers.get, chat.id)
        follows = sub.follows if sub else ()
        log.info("chat %s (%s) subscribed%s", chat.id, chat.type, "" if new else " again")
        await reply(update, context, render_start(
            new=new, follows=follows, lists=[wl.id for wl in self.s.watchlists.lists]))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Unsubscribe this chat."""
        chat = update.effective_chat
        assert chat is not None
        was = await self._store(self.s.store.subscribers.unsubscribe, chat.id, self.s.clock())
        await reply(update, context, plain(
            "Unsubscribed: no more alerts here. /start subscribes again." if was
            else "This chat was not subscribed. /start subscribes it."))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the commands."""
        await reply(update, context, render_help(is_admin=self._is_admin(update)))

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
        await reply(update, context, plain(f"Unknown command {cut(word, 40)}. See /help."))

    # -- reading
    async def recent(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Latest matched items, optionally of one list or entity."""
        usage = "Usage: /recent [n] [list|entity] — e.g. /recent 10 llm (n ≤ 20; see /lists)"
        try:
            n, word = parse_recent_args(context.args or [])
        except ValueError:
            await reply(update, context, plain(usage))
            return
        scope = resolve(self.s.watchlists, word) if word else None
        if word and scope is None:
            await reply(update, context, plain(f"Unknown list or entity “{cut(word, 60)}”.\n{usage}"))
            return
        list_id = scope[1] if scope and scope[0] == "list" else None
        entity = scope[1] if scope and scope[0] == "entity" else None
        items = await self._store(self.s.store.stories.recent, n, list_id=list_id, entity=entity)
        await reply(update, context, render_recent(
            items, [i.hits for i in items], self.s.watchlists, scope=scope[1] if scope else None))

    async def search(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stored stories whose items contain every word (full-text, Chinese included)."""
        words = " ".join(context.args or []).strip()
        if not words:
            await reply(update, context, plain(SEARCH_USAGE))
            return
        try:
            items = await self._store(self.s.store.search.find, words, SEARCH_MAX,
                                      now=self.s.clock())
        except SearchError as exc:
            await reply(update, context, plain(f"{exc}\n{SEARCH_USAGE}"))
            return
        await reply(update, context,
                    render_search(words, items, [i.hits for i in items], self.s.watchlists))

    async def lists(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Watchlists and their entities, with follow buttons."""
        chat = update.effective_chat
        assert chat is not None
        sub = await self._store(self.s.store.subscribers.get, chat.id)
        await reply(update, context, render_lists(self.s.watchlists,
                                                  follows=sub.follows if sub else ()))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Feed health summary."""
        health = await self._store(self.s.store.feeds.health, self.s.runtime.config.feeds.feeds)
        last = self.s.last_cycle
        if last is None:
            states = await self._store(self.s.store.feeds.states)
            attempts = [s.last_attempt for s in states.values() if s.last_attempt]
            last = max(attempts) if attempts else None
        await reply(update, context, render_status(health, last_cycle=last, now=self.s.clock()))

    async def trends(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A chart of stories per entity over 7, 30 or 90 days, with the change against before."""
        chat = update.effective_chat
        parsed = parse_trends_args(context.args or [], self.s.watchlists)
        if chat is None or isinstance(parsed, str):
            await reply(update, context, plain(parsed if isinstance(parsed, str) else TRENDS_USAGE))
            return
        days, list_id, entities = parsed
        trend, png = await asyncio.to_thread(trend_chart, self.s.store, self.s.watchlists,
                                             days, list_id, entities, self.s.clock())
        if png is None:
            await reply(update, context, plain(f"No stories in the last {days} days"
                                               + (f" for {', '.join(entities)}" if entities
                                                  else f" in {list_id}" if list_id else "")
                                               + "."))
            return
        await context.bot.send_photo(chat.id, photo=png,
                                     caption=cut(f"Last {days} days, stories (change against "
                                                 f"the {days} before):\n{caption(trend)}", 1024))

    # -- follows
    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Receive only the followed lists/entities."""
        await self._change_follow(update, context, follow=True)

    async def unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop following a list or entity."""
        await self._change_follow(update, context, follow=False)

    async def _change_follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE, *,
                             follow: bool) -> None:
        name = "follow" if follow else "unfollow"
        usage = f"Usage: /{name} <list|entity> — e.g. /{name} llm (see /lists)"
        args = context.args or []
        if len(args) != 1:
            await reply(update, context, plain(usage))
            return
        scope = resolve(self.s.watchlists, args[0])
        if scope is None:
            await reply(update, context, plain(f"Unknown list or entity “{cut(args[0], 60)}”.\n{usage}"))
            return
        chat = update.effective_chat
        assert chat is not None
        text = await self._store(self._apply_follow, chat.id, scope, follow)
        await reply(update, context, plain(text))

    def _apply_follow(self, chat_id: int, scope: tuple[str, str], follow: bool) -> str:
        """Change one chat's follows in the store; return the reply (runs in a thread)."""
        store = self.s.store
        sub = store.subscribers.get(chat_id)
        if sub is None or not sub.active:
            return "This chat is not subscribed: send /start first."
        kind, ident = scope
        current = list(sub.follows)
        if follow:
            if ident in current:
                return f"Already following {ident}. You follow: {', '.join(current)}."
            new = [*current, ident]
        else:
            if not current:
                if kind != "list":
                    return ("You receive everything, so there is nothing to unfollow. "
                            "/follow a list or entity first to narrow what arrives here.")
                new = [wl for wl in self.s.watchlists.list_ids() if wl != ident]
            elif ident not in current:
                return f"You do not follow {ident}. You follow: {', '.join(current)}."
            else:
                new = [f for f in current if f != ident]
        store.subscribers.set_follows(chat_id, new, self.s.clock())
        if not new:
            return (f"Unfollowed {ident}. You no longer follow anything in particular, "
                    "so this chat receives every alert again. /stop ends alerts.")
        verb = "Now following" if follow else f"Unfollowed {ident}. Still following"
        return f"{verb}: {', '.join(sorted(set(new)))}. Alerts about anything else are not sent here."

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Inline buttons of /lists: page through, follow or unfollow a list."""
        query = update.callback_query
        assert query is not None and query.data is not None
        action, _, rest = query.data.partition(":")
        chat_id = query.message.chat.id if query.message else None
        if chat_id is None:
            await query.answer()
            return
        page = 0
        note = None
        if action == "lists":
            page = int(rest) if rest.isdigit() else 0
        else:
            ident, _, page_text = rest.partition(":")
            page = int(page_text) if page_text.isdigit() else 0
            scope = resolve(self.s.watchlists, ident)
            note = ("Unknown list" if scope is None else
                    await self._store(self._apply_follow, chat_id, scope, action == "follow"))
        sub = await self._store(self.s.store.subscribers.get, chat_id)
        message = render_lists(self.s.watchlists, page=page, follows=sub.follows if sub else ())
        await query.answer(cut(note, 190) if note else None)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                        for b in row] for row in message.buttons])
        try:
            await query.edit_message_text(message.html, parse_mode=ParseMode.HTML,
                                          reply_markup=markup,
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    # -- digests
    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Daily digest instead of immediate alerts: /digest daily HH:MM [time zone] | off."""
        try:
            mode, at, zone_word = parse_digest_args(context.args or [])
        except ValueError:
            await reply(update, context, plain(
                f"{DIGEST_USAGE}\n— e.g. /digest daily 08:00 Asia/Shanghai"))
            return
        zone = resolve_zone(zone_word) if zone_word else None
        if zone_word and zone is None:
            await reply(update, context, plain(
                f"Unknown time zone “{cut(zone_word, 60)}”: use an IANA name such as "
                f"Asia/Shanghai, Europe/Berlin or UTC.\n{DIGEST_USAGE}"))
            return
        chat = update.effective_chat
        assert chat is not None
        text = await self._store(self._apply_digest, chat.id, mode, at, zone)
        await reply(update, context, plain(text))

    def _apply_digest(self, chat_id: int, mode: str, at: str | None, zone: str | None) -> str:
        """Show or change one chat's digest setting; return the reply (runs in a thread)."""
        store = self.s.store
        sub = store.subscribers.get(chat_id)
        if sub is None or not sub.active:
            return "This chat is not subscribed: send /start first."
        now = self.s.clock()
        tz = zone or sub.digest_tz
        if mode == "show":
            return describe_digest(sub.digest_at, sub.digest_tz, now)
        if mode == "off":
            if sub.digest_at is None:
                return "Digest is already off: alerts arrive as soon as they are found."
            released = store.digests.set(chat_id, None, tz, now)
            held = (f" The {released} alert{'s' if released != 1 else ''} collected so far "
                    "will arrive now." if released else "")
            return "Digest off: alerts arrive as soon as they are found again." + held
        store.digests.set(chat_id, at, tz, now)
        log.info("chat %s: digest daily at %s %s", chat_id, at, tz)
        return describe_digest(at, tz, now)

    # -- admins
    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """(Admins) re-read rules and feeds; say what changed or list the errors."""
        if not self._is_admin(update):
            await self._refuse(update, context, "reload")
            return
        old = self.s.runtime.config
        try:
            new = await asyncio.to_thread(self.s.runtime.reload)
        except ConfigError as exc:
            lines = [str(p) for p in exc.problems]
            await reply(update, context, plain(cut(
                "Reload failed; still running the previous configuration.\n" + "\n".join(lines),
                MAX_CHARS)))
            return
        await reply(update, context, plain(cut(describe_change(old, new), MAX_CHARS)))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """(Admins) subscribers, items, alerts sent, queue."""
        if not self._is_admin(update):
            await self._refuse(update, context, "stats")
            return
        stats = await self._store(self.s.store.stats)
        queue = self.s.worker.stats.as_dict() if self.s.worker is not None else None
        await reply(update, context, render_stats(stats, queue=queue))


async def register_commands(bot: Any, admins: Sequence[int]) -> None:
    """setMyCommands: the public menu, and the admin menu in each admin's private chat."""
    from telegram import BotCommandScopeChat

    await bot.set_my_commands(bot_commands())
    for admin in admins:
        try:
            await bot.set_my_commands(bot_commands(admin=True), scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # the admin never opened a chat with the bot
            log.info("admin menu for %s not set: %s", admin, exc)
