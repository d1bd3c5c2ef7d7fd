"""What a running newsbot holds: configuration, store, fetcher, pipeline — and the console loop.

`Runtime` is built once by the CLI and shared by the console loop (no Telegram token) and the
Telegram application (`bot.telegram.app`). It owns the current configuration and swaps it atomically on
reload: a broken edit leaves the last good configuration running.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from bot.config import FeedsConfig, Settings, load_feeds
from bot.errors import ConfigError
from bot.ingest.fetch import Fetcher, FetchLimits
from bot.ingest.pipeline import CycleReport, ParsePool, Pipeline
from bot.match.matching import match_item
from bot.match.rules import load_watchlists
from bot.match.watchlists import Watchlists
from bot.models import Feed, Hit
from bot.render.console import format_alert, format_followup
from bot.render.digest import render_digest
from bot.render.notices import config_notice, health_notice
from bot.schedule import PollPolicy, assess_health
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Config:
    """A complete, validated configuration: feeds and watchlists, loaded together."""

    feeds: FeedsConfig
    watchlists: Watchlists
    rules_digest: str = ""  # hash of the rules files' bytes: tells an edit from a no-op

    def entity_name(self, entity_id: str) -> str:
        info = self.watchlists.entity(entity_id)
        return info.name if info else entity_id


def load_config(settings: Settings) -> Config:
    """Load feeds.yaml and rules/; raise one ConfigError with every problem of both."""
    problems = []
    feeds = watchlists = None
    try:
        feeds = load_feeds(settings.feeds_path)
    except ConfigError as exc:
        problems += exc.problems
    try:
        watchlists = load_watchlists(settings.rules_dir)
    except ConfigError as exc:
        problems += exc.problems
    if problems or feeds is None or watchlists is None:
        raise ConfigError(problems)
    return Config(feeds=feeds, watchlists=watchlists, rules_digest=_rules_digest(settings))


def _rules_digest(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in sorted(settings.rules_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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


def config_signature(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """What identifies the configuration on disk: each file's name, mtime and size.

    Cheap enough to take every few seconds; any edit, new or deleted rules file changes it.
    """
    paths = [settings.feeds_path]
    try:
        paths += sorted(settings.rules_dir.glob("*.yaml"))
    except OSError:
        pass
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append((str(path), -1, -1))
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def describe_change(old: Config, new: Config) -> str:
    """What a reload changed: feeds and lists added/removed, entity counts."""
    old_feeds = {f.name for f in old.feeds.feeds}
    new_feeds = {f.name for f in new.feeds.feeds}
    old_lists = {wl.id: len(wl.entities) for wl in old.watchlists.lists}
    new_lists = {wl.id: len(wl.entities) for wl in new.watchlists.lists}
    parts = [f"Reloaded: {len(new_feeds)} feeds, {len(new_lists)} watchlists, "
             f"{sum(new_lists.values())} entities."]
    if added := sorted(new_feeds - old_feeds):
        parts.append("Feeds added: " + ", ".join(added))
    if removed := sorted(old_feeds - new_feeds):
        parts.append("Feeds removed: " + ", ".join(removed))
    changed = sorted(f.name for f in new.feeds.feeds
                     if f.name in old_feeds and f not in old.feeds.feeds)
    if changed:
        parts.append("Feeds changed: " + ", ".join(changed))
    for wl in sorted(set(old_lists) | set(new_lists)):
        before, after = old_lists.get(wl), new_lists.get(wl)
        if before is None:
            parts.append(f"List added: {wl} ({after} entities)")
        elif after is None:
            parts.append(f"List removed: {wl}")
        elif before != after:
            parts.append(f"List {wl}: {before} → {after} entities")
    if old.rules_digest != new.rules_digest and len(parts) == 1:
        parts.append("Watchlist rules changed.")
    if len(parts) == 1:
        parts.append("Nothing changed.")
    return "\n".join(parts)


class Runtime:
    """The long-lived parts of a running bot, wired once."""

    def __init__(self, settings: Settings, config: Config, *, workers: int | None = None,
                 policy: PollPolicy = PollPolicy()) -> None:
        self.settings = settings
        self.config = config
        self.policy = policy
        self.store = Store(settings.db_path)
        self.fetcher = Fetcher(FetchLimits())
        self.parse_pool = ParsePool(workers)
        self.pipeline = Pipeline(
            self.store, self.fetcher, self.match, parse_pool=self.parse_pool, policy=policy
        )
        self._signature = config_signature(settings)
        self._reported_problems: tuple[str, ...] = ()

    def match(self, title: str, summary: str) -> list[Hit]:
        """The current watchlists' matcher (reads self.config at call time: reload-safe)."""
        return match_item(title, summary, self.config.watchlists)

    def reload(self) -> Config:
        """Re-read feeds and rules; keep the old configuration when the new one is broken."""
        self._signature = config_signature(self.settings)
        config = load_config(self.settings)  # raises ConfigError, self.config untouched
        self.config = config
        self._reported_problems = ()
        return config

    async def reload_if_changed(self) -> None:
        """Hot reload: when a config file changed on disk, reload it; report a broken edit.

        A broken edit is logged with its FILE:LINE problems and sent to the admins once
        (not once per check); the last good configuration keeps running.
        """
        if config_signature(self.settings) == self._signature:
            return
        old = self.config
        try:
            new = await asyncio.to_thread(self.reload)
        except ConfigError as exc:
            problems = tuple(str(p) for p in exc.problems)
            if problems != self._reported_problems:
                self._reported_problems = problems
                log.error("configuration not reloaded, the last good one keeps running:\n%s",
                          "\n".join(problems))
                await self.notify_admins(config_notice(exc.problems))
            return
        log.info("configuration reloaded: %s", describe_change(old, new).replace("\n", "; "))

    async def notify_admins(self, html: str) -> None:
        """Queue a notice for every admin's private chat (nothing to do without admins)."""
        if self.settings.admins and self.settings.telegram_token:
            await asyncio.to_thread(
                self.store.outbox.enqueue_notice, self.settings.admins, html, datetime.now(UTC))

    async def check_health(self, now: datetime | None = None) -> list[str]:
        """Raise one admin notice per change of a feed's health (failing, silent, recovered)."""
        now = now or datetime.now(UTC)
        feeds = {f.name: f for f in self.config.feeds.feeds}
        notices = []
        for h in await asyncio.to_thread(self.store.feeds.health_inputs):
            feed = feeds.get(h.feed)
            if feed is None:
                continue  # removed from feeds.yaml: its history stays, its alarms stop
            health = assess_health(h.first_error_at, h.arrivals, now, self.policy)
            if health == h.health:
                continue
            await asyncio.to_thread(self.store.feeds.set_health, h.feed, health, now)
            text = health_notice(feed.name, feed.url, h.health, health,
                                 since=h.first_error_at, last_error=h.last_error, now=now)
            log.warning("feed %s: %s → %s%s", feed.name, h.health, health,
                        f" (last error: {h.last_error})" if health == "failing" else "")
            await self.notify_admins(text)
            notices.append(text)
        return notices

    async def send_digests(self, now: datetime | None = None) -> int:
        """Queue the digest of every chat whose time has come; return the messages queued.

        Per chat: its held alerts, rendered with the current watchlists in its time zone,
        released in one transaction (bot.store.Store.release_digest). A chat with nothing
        held only has its last digest time moved. The delivery worker finds the queued
        messages at its next look at the outbox (at most DeliveryLimits.idle_poll later).
        """
        now = now or datetime.now(UTC)
        queued = 0
        for chat in await asyncio.to_thread(self.store.digests.due_chats, now):
            held = await asyncio.to_thread(self.store.digests.held, chat.chat_id)
            messages = render_digest(held, self.config.watchlists, chat_tz=chat.digest_tz, now=now)
            sent = await asyncio.to_thread(
                self.store.digests.release, chat.chat_id, messages, now,
                outbox_ids=[h.outbox_id for h in held])
            if sent:
                log.info("chat %s: digest of %d alerts in %d messages", chat.chat_id, len(held),
                         sent)
            queued += sent
        return queued

    async def poll(self, feeds: Sequence[Feed] | None = None) -> CycleReport:
        """One cycle over these feeds (default: all configured feeds)."""
        return await self.pipeline.run_cycle(self.config.feeds.feeds if feeds is None else feeds)

    async def poll_due(self) -> CycleReport | None:
        """One cycle over the feeds that are due now and not being polled, or None."""
        schedule = await asyncio.to_thread(self.store.feeds.schedule)
        due = [f for f in due_feeds(self.config.feeds.feeds, schedule, datetime.now(UTC))
               if f.name not in self.pipeline.busy]
        if not due:
            return None
        return await self.poll(due)

    async def seconds_to_next_poll(self) -> float | None:
        """How long until some feed is due (0 when one is due now; None without feeds)."""
        now = datetime.now(UTC)
        schedule = await asyncio.to_thread(self.store.feeds.schedule)
        when = next_due(self.config.feeds.feeds, schedule, now)
        return None if when is None else max(0.0, (when - now).total_seconds())

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        self.parse_pool.close()
        self.store.close()


def print_report(report: CycleReport, config: Config, out: TextIO) -> None:
    """Print a cycle's new matched items to the console, once each."""
    for recorded in report.alerts:
        print(format_alert(recorded.stored, config.entity_name, backfill=recorded.stored.backfill),
              file=out, flush=True)
    for recorded in report.followups:
        print(format_followup(recorded.stored), file=out, flush=True)


class Scheduler:
    """Drives a Runtime: called every tick (by the JobQueue, or the console loop).

    Each tick starts a cycle for the feeds that are due (in the background: a slow feed
    never holds back the others, and a feed already being polled is skipped), checks the
    configuration files for edits every `reload_every` seconds, feed health every
    `health_every` seconds and due digests every `digest_every` seconds. `on_cycle` receives
    each finished cycle's report.
    """

    def __init__(
        self,
        runtime: Runtime,
        on_cycle: Callable[[CycleReport], None] | None = None,
        *,
        reload_every: float = 2.0,
        health_every: float = 60.0,
        digest_every: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.on_cycle = on_cycle
        self.reload_every = reload_every
        self.health_every = health_every
        self.digest_every = digest_every
        self.last_cycle: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_reload = self._last_health = self._last_digest = float("-inf")
        self._stopping = False

    async def tick(self) -> None:
        """One look at the clock: reload, health, digests, start due cycles. Never raises."""
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        try:
            if loop.time() - self._last_reload >= self.reload_every:
                self._last_reload = loop.time()
                await self.runtime.reload_if_changed()
            if loop.time() - self._last_health >= self.health_every:
                self._last_health = loop.time()
                await self.runtime.check_health()
        except Exception:
            log.exception("scheduler housekeeping failed")
        try:
            # Digests apart: a failing health check must not hold back anyone's digest.
            if loop.time() - self._last_digest >= self.digest_every:
                self._last_digest = loop.time()
                await self.runtime.send_digests()
        except Exception:
            log.exception("sending digests failed")
        task = asyncio.create_task(self._cycle(), name="poll-cycle")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cycle(self) -> None:
        try:
            report = await self.runtime.poll_due()
        except Exception:
            log.exception("poll cycle failed")
            return
        if report is None:
            return
        self.last_cycle = report.started
        log.info("cycle: %s", report.summary())
        if self.on_cycle:
            self.on_cycle(report)

    async def stop(self, grace: float = 5.0) -> None:
        """Take no new work; give running cycles `grace` seconds, then cancel them.

        Cancelling is safe: each feed's results are committed in one transaction, and a feed
        cut off mid-poll is simply polled again after the restart.
        """
        self._stopping = True
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop` (when running in the main thread)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass


async def run_console(
    runtime: Runtime,
    *,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
    tick: float = 1.0,
    on_cycle: Callable[[CycleReport], None] | None = None,
) -> None:
    """Poll every feed on its interval and print alerts, until SIGINT/SIGTERM or `stop`."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    log.info("newsbot running with %d feeds (console alerts: no TELEGRAM_BOT_TOKEN set)",
             len(runtime.config.feeds.feeds))

    def show(report: CycleReport) -> None:
        print_report(report, runtime.config, out)
        if on_cycle:
            on_cycle(report)

    scheduler = Scheduler(runtime, show)
    while not stop.is_set():
        await scheduler.tick()
        # Sleep until the next feed is due, but look again at least every `tick` seconds
        # (config edits, feeds whose cycle just ended).
        wait = await runtime.seconds_to_next_poll()
        wait = tick if wait is None else min(tick, max(0.05, wait))
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass
    log.info("stopping: letting running polls finish")
    await scheduler.stop()
    log.info("newsbot stopped")
