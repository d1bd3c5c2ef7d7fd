"""Scheduling decisions, pure and clock-free: when to poll next, backoff, outages, staleness.

Everything here takes `now` and returns a decision; nothing sleeps or reads the clock, so
the rules are tested by passing times in.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.models import Feed


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The knobs of scheduling, with the defaults a small server wants."""

    backoff_cap: float = 6 * 3600.0  # failing feeds are retried at least this often, forever
    jitter: float = 0.1  # ± this fraction of the interval, fixed per feed
    max_server_delay: float = 24 * 3600.0  # a server may slow us down, but not stop us
    failing_alert_after: float = 6 * 3600.0  # failing this long → one admin alert
    stale_factor: float = 10.0  # silent this many usual gaps → stale
    stale_minimum: float = 3 * 86400.0  # … and at least this long
    # Never sooner than this after a poll, whatever the interval and jitter: the scheduler
    # looks once a tick (Settings.tick), so a shorter wait could not be kept anyway.
    min_delay: float = 1.0


def jitter_offset(feed_name: str, interval: float, fraction: float) -> float:
    """A stable offset in [-fraction, +fraction] × interval for this feed.

    Stable (a hash of the name, not random) so that a restart keeps the spread, and a
    thousand feeds with the same interval do not fire in the same second.
    """
    digest = hashlib.blake2b(feed_name.encode(), digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2**64  # [0, 1)
    return (unit * 2 - 1) * fraction * interval


def first_poll_delay(feed: Feed, policy: PollPolicy = PollPolicy()) -> float:
    """Delay before a feed's first poll after start-up: spread over a tenth of its interval."""
    return abs(jitter_offset(feed.name, feed.interval, policy.jitter))


def server_requested_delay(
    headers: Mapping[str, str], ttl_minutes: int | None, now: datetime
) -> float | None:
    """The longest delay the server asked for: Retry-After, Cache-Control max-age, RSS <ttl>."""
    asked: list[float] = []
    retry_after = headers.get("retry-after")
    if retry_after:
        asked.extend(_retry_after_seconds(retry_after, now))
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            asked.append(float(value.strip()))
    if ttl_minutes and ttl_minutes > 0:
        asked.append(ttl_minutes * 60.0)
    return max(asked) if asked else None


def _retry_after_seconds(value: str, now: datetime) -> list[float]:
    value = value.strip()
    if value.isdigit():
        return [float(value)]
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return []
    if when.tzinfo is None:
        return []
    return [max(0.0, (when - now).total_seconds())]


def backoff_delay(interval: float, consecutive_errors: int, policy: PollPolicy = PollPolicy()) -> float:
    """The interval doubled per consecutive error, capped (a feed is never given up)."""
    if consecutive_errors <= 0:
        return interval
    cap = max(interval, policy.backoff_cap)
    return min(cap, interval * 2 ** min(consecutive_errors, 30))


def next_poll_time(
    feed: Feed,
    now: datetime,
    *,
    consecutive_errors: int = 0,
    headers: Mapping[str, str] | None = None,
    ttl_minutes: int | None = None,
    policy: PollPolicy = PollPolicy(),
) -> datetime:
    """When to poll this feed next.

    The configured interval is the floor: a server asking for less frequent polling
    (Retry-After, Cache-Control max-age, <ttl>) is honoured up to a day, never the other
    way. Failures back off exponentially up to the cap. A stable per-feed jitter spreads
    feeds that share an interval.
    """
    delay = backoff_delay(feed.interval, consecutive_errors, policy)
    asked = server_requested_delay(headers or {}, ttl_minutes, now)
    if asked is not None:
        delay = max(delay, min(asked, policy.max_server_delay))
    jitter = jitter_offset(feed.name, feed.interval, policy.jitter)
    delay = max(policy.min_delay, delay + jitter)
    return now + timedelta(seconds=delay)


class OutageDetector:
    """Tells our own network outage apart from feeds failing.

    When every feed polled recently failed at the transport level (no HTTP answer at all)
    across several hosts, the fault is ours: those failures must not count against the
    feeds. Any success in the window means the network works.
    """

    def __init__(self, window: float = 300.0, min_hosts: int = 3) -> None:
        self.window = window
        self.min_hosts = min_hosts
        self._events: deque[tuple[datetime, str, bool]] = deque()

    def record(self, now: datetime, host: str, ok: bool) -> None:
        """Remember one poll outcome (ok: the server answered, whatever the status)."""
        self._events.append((now, host, ok))
        self._forget(now)

    def is_outage(self, now: datetime) -> bool:
        """True when nothing answered in the window and several hosts failed."""
        self._forget(now)
        if any(ok for _, _, ok in self._events):
            return False
        return len({host for _, host, _ in self._events}) >= self.min_hosts

    def _forget(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.window)
        while self._events and self._events[0][0] < horizon:
            self._events.popleft()


def usual_gap(new_item_times: Sequence[datetime]) -> float | None:
    """The median gap in seconds between a feed's new items (None with fewer than 3 items)."""
    times = sorted(new_item_times)
    if len(times) < 3:
        return None
    gaps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
    return gaps[len(gaps) // 2]


def is_stale(
    new_item_times: Sequence[datetime], now: datetime, policy: PollPolicy = PollPolicy()
) -> bool:
    """True when a feed that usually brings news has been silent for much longer than usual."""
    gap = usual_gap(new_item_times)
    if gap is None:
        return False
    silent = (now - max(new_item_times)).total_seconds()
    return silent > max(policy.stale_minimum, policy.stale_factor * gap)


def is_failing_long(first_error_at: datetime | None, now: datetime,
                    policy: PollPolicy = PollPolicy()) -> bool:
    """True when a feed has failed without a success for longer than the alert threshold."""
    return first_error_at is not None and (now - first_error_at).total_seconds() >= policy.failing_alert_after


Health = Literal["ok", "failing", "stale"]


def assess_health(
    first_error_at: datetime | None,
    new_item_times: Sequence[datetime],
    now: datetime,
    policy: PollPolicy = PollPolicy(),
) -> Health:
    """A feed's health: failing for too long, silent for too long, or ok."""
    if is_failing_long(first_error_at, now, policy):
        return "failing"
    if first_error_at is None and is_stale(new_item_times, now, policy):
        return "stale"
    return "ok"


def digest_moment(at: str | None, tz: str, now: datetime) -> datetime | None:
    """Today's digest time ("HH:MM" on `now`'s date in `tz`) as an aware UTC datetime.

    A time skipped by a DST change (02:30 on a spring-forward night) falls after the gap,
    and a repeated one (01:30 in autumn) means its first occurrence: one digest a day
    either way. None when `at` is not HH:MM; an unknown zone counts as UTC.
    """
    hours, minutes = parse_hhmm(at or "")
    if hours < 0:
        return None
    zone = zone_or_utc(tz)
    local = now.astimezone(zone)
    moment = datetime(local.year, local.month, local.day, hours, minutes, tzinfo=zone)
    return moment.astimezone(UTC)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CJK_DAYS = "一二三四五六"


def parse_weekday(text: str) -> int:
    """0 (Monday) to 6 of "Mon", "monday", "Tues", "周一", "星期日"…; -1 when none."""
    word = text.strip().lower()
    for prefix in ("星期", "周", "礼拜"):
        if word.startswith(prefix) and len(word) == len(prefix) + 1:
            tail = word[-1]
            return 6 if tail in "日天" else _CJK_DAYS.find(tail)
    if len(word) >= 3:
        for n, name in enumerate(_DAY_NAMES):
            if name.startswith(word):
                return n
    return -1


def weekly_moment(day: int, at: str, tz: str, now: datetime) -> datetime | None:
    """The latest weekly time (weekday `day`, "HH:MM" in `tz`) at or before `now`, in UTC.

    A local time that DST skips or repeats is read as digest_moment reads it. None when
    `day` or `at` is malformed; an unknown zone counts as UTC."""
    hours, minutes = parse_hhmm(at)
    if hours < 0 or not 0 <= day <= 6:
        return None
    zone = zone_or_utc(tz)
    local = now.astimezone(zone)
    date = local.date() - timedelta(days=(local.weekday() - day) % 7)
    for back in (0, 7):
        moment = datetime(date.year, date.month, date.day, hours, minutes, tzinfo=zone) \
            - timedelta(days=back)
        if moment.astimezone(UTC) <= now:
            return moment.astimezone(UTC)
    return None  # unreachable: a week earlier is always before now


def week_label(moment: datetime, tz: str) -> str:
    """The ISO week of `moment` in `tz`, "2026-W49": the once-a-week key of a brief."""
    year, week, _ = moment.astimezone(zone_or_utc(tz)).isocalendar()
    return f"{year}-W{week:02d}"


def brief_period(moment: datetime, tz: str) -> tuple[datetime, datetime]:
    """The 7 whole local days before a weekly brief's day, as UTC [since, until)."""
    zone = zone_or_utc(tz)
    day = moment.astimezone(zone).date()
    until = datetime(day.year, day.month, day.day, tzinfo=zone)
    since = until - timedelta(days=7)
    # Wall-clock arithmetic: a DST change inside the week makes it 167 or 169 hours long.
    return since.astimezone(UTC), until.astimezone(UTC)


def parse_hhmm(text: str) -> tuple[int, int]:
    """(hours, minutes) of "H:MM" or "HH:MM" on a 24-hour clock; (-1, -1) when malformed."""
    head, sep, tail = text.strip().partition(":")
    if not (sep and head.isdigit() and tail.isdigit() and len(head) <= 2 and len(tail) == 2):
        return -1, -1
    hours, minutes = int(head), int(tail)
    if hours > 23 or minutes > 59:
        return -1, -1
    return hours, minutes


def zone_or_utc(name: str) -> ZoneInfo:
    """The IANA time zone of that name; UTC when the tz database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


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


def due_feeds(
    feeds: Sequence[Feed], schedule: dict[str, datetime | None], now: datetime
) -> list[Feed]:
    """The feeds whose next poll time has come (never polled counts as due)."""
    due = []
    for feed in feeds:
        when = schedule.get(feed.name)
        if when is None or when <= now:
            due.append(feed)
    return due


def next_due(feeds: Sequence[Feed], schedule: dict[str, datetime | None],
             now: datetime) -> datetime | None:
    """The earliest next poll time among these feeds (now for a feed never polled)."""
    times = [schedule.get(f.name) or now for f in feeds]
    return min(times) if times else None
