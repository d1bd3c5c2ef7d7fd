"""What a chat changes about itself: follows, digest, language. Each `…_reply` reads the
arguments, changes the store and returns the reply in the chat's language (blocking: the
handlers run them in a thread)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.render.i18n import EN, LANGUAGES, Tr, translator
from bot.render.text import cut
from bot.schedule import digest_moment, parse_hhmm, resolve_zone, zone_or_utc
from bot.telegram.topics import Topic, route_follow

log = logging.getLogger(__name__)


def not_subscribed(tr: Tr) -> str:
    return tr._("This chat is not subscribed: send /start first.")


def unknown_zone(zone: str, usage: str, tr: Tr) -> str:
    return tr._("Unknown time zone “{zone}”: use an IANA name such as Asia/Shanghai, "
                "Europe/Berlin or UTC.").format(zone=cut(zone, 60)) + "\n" + usage


# ---------------------------------------------------------------------------- follows

def follow_usage(name: str, tr: Tr) -> str:
    return tr._("Usage: /{name} <list|entity> — e.g. /{name} llm (see /lists)").format(name=name)


def apply_follow(store: Any, watchlists: Any, chat_id: int, scope: tuple[str, str],
                 follow: bool, now: datetime, tr: Tr = EN, topic: Topic | None = None) -> str:
    """Change one chat's follows; the reply. In a forum (`topic` given), a follow also
    routes the scope's alerts to the topic it was sent in; an unfollow drops any route."""
    sub = store.subscribers.get(chat_id)
    if sub is None or not sub.active:
        return not_subscribed(tr)
    kind, ident = scope
    current = list(sub.follows)
    if follow:
        if ident in current:
            text = tr._("Already following {scope}. You follow: {follows}.").format(
                scope=ident, follows=", ".join(current))
            if topic is None:
                return text
            return text + " " + route_follow(store, chat_id, ident, topic, now, tr)
        new = [*current, ident]
    else:
        if not current:
            if kind != "list":
                return tr._("You receive everything, so there is nothing to unfollow. "
                            "/follow a list or entity first to narrow what arrives here.")
            new = [wl for wl in watchlists.list_ids() if wl != ident]
        elif ident not in current:
            return tr._("You do not follow {scope}. You follow: {follows}.").format(
                scope=ident, follows=", ".join(current))
        else:
            new = [f for f in current if f != ident]
    store.subscribers.set_follows(chat_id, new, now)
    where = ""
    if follow and topic is not None:
        where = " " + route_follow(store, chat_id, ident, topic, now, tr)
    elif not follow:
        store.topics.route(chat_id, ident, None, now)  # its topic, if any, is not its any more
    if not new:
        return tr._("Unfollowed {scope}. You no longer follow anything in particular, so this "
                    "chat receives every alert again. /stop ends alerts.").format(scope=ident)
    follows = ", ".join(sorted(set(new)))
    if follow:
        return tr._("Now following: {follows}. Alerts about anything else are not sent "
                    "here.").format(follows=follows) + where
    return tr._("Unfollowed {scope}. Still following: {follows}. Alerts about anything else "
                "are not sent here.").format(scope=ident, follows=follows)


# ---------------------------------------------------------------------------- digest

def digest_usage(tr: Tr) -> str:
    return tr._("Usage: /digest daily HH:MM [time zone] | /digest off")


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


def describe_digest(at: str | None, tz: str, now: datetime, tr: Tr = EN) -> str:
    """What /digest says about a chat's setting: when the next digest comes."""
    if at is None:
        return tr._("Alerts arrive here as soon as they are found. "
                    "/digest daily HH:MM [time zone] collects them into one message a day.")
    moment = digest_moment(at, tz, now)
    if moment is not None and moment <= now:
        moment += timedelta(days=1)
    local = moment.astimezone(zone_or_utc(tz)) if moment else None
    day = f"{tr.dates.weekday(local.weekday())} {tr.dates.day_month(local.date())}" if local else "?"
    return tr._("Digest: one message a day at {at} ({tz}), the next on {day}. Alerts are "
                "collected until then. /digest off sends them as they come again.").format(
                    at=at, tz=tz, day=day)


def digest_reply(store: Any, chat_id: int, args: Sequence[str], now: datetime,
                 tr: Tr = EN) -> str:
    """The whole of /digest: arguments, time zone, the setting shown or changed."""
    try:
        mode, at, zone_word = parse_digest_args(args)
    except ValueError:
        return digest_usage(tr) + "\n" + tr._("— e.g. /digest daily 08:00 Asia/Shanghai")
    zone = resolve_zone(zone_word) if zone_word else None
    if zone_word and zone is None:
        return unknown_zone(zone_word, digest_usage(tr), tr)
    sub = store.subscribers.get(chat_id)
    if sub is None or not sub.active:
        return not_subscribed(tr)
    tz = zone or sub.digest_tz
    if mode == "show":
        return describe_digest(sub.digest_at, sub.digest_tz, now, tr)
    if mode == "off":
        if sub.digest_at is None:
            return tr._("Digest is already off: alerts arrive as soon as they are found.")
        released = store.digests.set(chat_id, None, tz, now)
        text = tr._("Digest off: alerts arrive as soon as they are found again.")
        if released:
            text += " " + tr.ngettext("The {n} alert collected so far will arrive now.",
                                      "The {n} alerts collected so far will arrive now.",
                                      released).format(n=released)
        return text
    store.digests.set(chat_id, at, tz, now)
    log.info("chat %s: digest daily at %s %s", chat_id, at, tz)
    return describe_digest(at, tz, now, tr)


# ---------------------------------------------------------------------------- language

def lang_reply(store: Any, chat_id: int, args: Sequence[str], now: datetime,
               tr: Tr = EN) -> str:
    """The whole of /lang: the setting shown or changed; the reply, in the language chosen."""
    words = [a.strip().lower() for a in args if a.strip()]
    sub = store.subscribers.get(chat_id)
    if not words:
        return tr._("This chat reads newsbot in English. /lang zh switches to Chinese; "
                    "/lang en back to English.")
    wanted = {"zh": "zh", "cn": "zh", "中文": "zh", "en": "en", "english": "en"}.get(words[0])
    if len(words) != 1 or wanted not in LANGUAGES:
        return tr._("Usage: /lang zh | /lang en")
    if sub is None or not sub.active:
        return not_subscribed(translator(wanted))
    store.subscribers.set_lang(chat_id, wanted, now)
    return translator(wanted)._("Done: this chat reads newsbot in English now.")
