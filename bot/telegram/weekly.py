"""/weekly: a chat's weekly brief, switched on (a day, a time, a time zone) or off.

The arguments are read here (pure) and the reply made; Commands.weekly only sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.render.i18n import EN, Tr
from bot.schedule import (
    parse_hhmm,
    parse_weekday,
    resolve_zone,
    weekly_moment,
    zone_or_utc,
)
from bot.telegram.chats import not_subscribed, unknown_zone

DEFAULT_DAY, DEFAULT_AT = 0, "09:00"


@dataclass(frozen=True, slots=True)
class WeeklyArgs:
    """What /weekly asked: show the setting, switch off, or on (missing parts: keep/default)."""

    mode: str  # "show" | "on" | "off"
    day: int | None = None
    at: str | None = None
    zone: str | None = None  # as typed; resolved by the caller


def parse_weekly_args(args: Sequence[str]) -> WeeklyArgs:
    """/weekly's arguments: `on [day] [HH:MM] [zone]`, `off`, or nothing. ValueError when
    malformed (the caller answers with the usage line)."""
    words = [a.strip() for a in args if a.strip()]
    if not words:
        return WeeklyArgs("show")
    mode, rest = words[0].casefold(), words[1:]
    if mode == "off" and not rest:
        return WeeklyArgs("off")
    if mode != "on" or len(rest) > 3:
        raise ValueError("malformed /weekly arguments")
    day = at = zone = None
    for n, word in enumerate(rest):
        hours, minutes = parse_hhmm(word)
        if day is None and at is None and zone is None and parse_weekday(word) >= 0:
            day = parse_weekday(word)
        elif at is None and zone is None and hours >= 0:
            at = f"{hours:02d}:{minutes:02d}"
        elif zone is None and n == len(rest) - 1 and ("/" in word or word.upper() == "UTC"):
            zone = word
        else:
            raise ValueError(f"/weekly: {word!r} is not a day, a time or a time zone")
    return WeeklyArgs("on", day, at, zone)


def weekly_usage(tr: Tr) -> str:
    return tr._("Usage: /weekly on [day] [HH:MM] [time zone] | /weekly off")


def describe_weekly(day: int | None, at: str | None, tz: str, now: datetime,
                    tr: Tr = EN) -> str:
    """What /weekly says about a chat's setting: when the next brief comes."""
    if day is None or at is None:
        return tr._("No weekly brief. /weekly on [day] [HH:MM] [time zone] sends one each "
                    "week: the week's chart, the most told stories per list, the entities new "
                    "that week and the count against the week before.")
    moment = weekly_moment(day, at, tz, now)
    upcoming = (moment + timedelta(days=7)) if moment is not None else None
    local = upcoming.astimezone(zone_or_utc(tz)) if upcoming else None
    shown = (f"{tr.dates.weekday(local.weekday())} {tr.dates.day_month(local.date())}"
             if local else "?")
    return tr._("Weekly brief: every {day} at {at} ({tz}), the next on {next}: the week's "
                "chart, the most told stories per list, the entities new that week. "
                "/weekly off stops it.").format(day=tr.dates.weekday(day), at=at, tz=tz, next=shown)


def apply_weekly(store: Any, chat_id: int, wanted: WeeklyArgs, zone: str | None,
                 now: datetime, tr: Tr = EN) -> str:
    """Show or change one chat's weekly brief; the reply (blocking: run it in a thread)."""
    sub = store.subscribers.get(chat_id)
    if sub is None or not sub.active:
        return not_subscribed(tr)
    tz = zone or sub.weekly_tz
    if wanted.mode == "show":
        return describe_weekly(sub.weekly_day, sub.weekly_at, sub.weekly_tz, now, tr)
    if wanted.mode == "off":
        if sub.weekly_day is None:
            return tr._("The weekly brief is already off.")
        store.weekly.set(chat_id, None, None, tz, now)
        return tr._("Weekly brief off. /weekly on brings it back.")
    day = wanted.day if wanted.day is not None else (
        sub.weekly_day if sub.weekly_day is not None else DEFAULT_DAY)
    at = wanted.at or sub.weekly_at or DEFAULT_AT
    store.weekly.set(chat_id, day, at, tz, now)
    return describe_weekly(day, at, tz, now, tr)


def weekly_reply(store: Any, chat_id: int, args: Sequence[str], now: datetime,
                 tr: Tr = EN) -> str:
    """The whole of /weekly: arguments read, time zone checked, setting shown or changed;
    the reply (blocking: run it in a thread)."""
    try:
        wanted = parse_weekly_args(args)
    except ValueError:
        return weekly_usage(tr) + "\n" + tr._("— e.g. /weekly on Mon 09:00 Asia/Shanghai")
    zone = resolve_zone(wanted.zone) if wanted.zone else None
    if wanted.zone and zone is None:
        return unknown_zone(wanted.zone, weekly_usage(tr), tr)
    return apply_weekly(store, chat_id, wanted, zone, now, tr)
