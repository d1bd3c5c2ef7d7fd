"""What a running newsbot holds: configuration, store, fetcher, pipeline — and the console loop.

`Runtime` is built once by the CLI and shared by the console loop (no Telegram token) and the
Telegram application (`bot.app`). It owns the current configuration and swaps it atomically on
reload: a broken edit leaves the last good configuration running.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from bot.config import FeedsConfig, Settings, load_feeds
from bot.console import format_alert
from bot.errors import ConfigError
from bot.fetch import Fetcher, FetchLimits
from bot.matching import match_item
from bot.models import Feed, Hit
from bot.pipeline import CycleReport, ParsePool, Pipeline
from bot.rules import Watchlists, load_watchlists
from bot.store import FeedState, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Config:
    """A complete, validated configuration: feeds and watchlists, loaded together."""

    feeds: FeedsConfig
    watchlists: Watchlists

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
    return Config(feeds=feeds, watchlists=watchlists)


def due_feeds(feeds: Sequence[Feed], states: dict[str, FeedState], now: datetime) -> list[Feed]:
    """The feeds whose next poll time has come (never polled counts as due)."""
    due = []
    for feed in feeds:
        state = states.get(feed.name)
        if state is None or state.next_poll is None or state.next_poll <= now:
            due.append(feed)
    return due


class Runtime:
    """The long-lived parts of a running bot, wired once."""

    def __init__(self, settings: Settings, config: Config, *, processes: int | None = None) -> None:
        self.settings = settings
        self.config = config
        self.store = Store(settings.db_path)
        self.fetcher = Fetcher(FetchLimits())
        self.parse_pool = ParsePool(processes)
        self.pipeline = Pipeline(
            self.store, self.fetcher, self.match, parse_pool=self.parse_pool
        )

    def match(self, title: str, summary: str) -> list[Hit]:
        """The current watchlists' matcher (reads self.config at call time: reload-safe)."""
        return match_item(title, summary, self.config.watchlists)

    def reload(self) -> Config:
        """Re-read feeds and rules; keep the old configuration when the new one is broken."""
        config = load_config(self.settings)  # raises ConfigError, self.config untouched
        self.config = config
        return config

    async def poll(self, feeds: Sequence[Feed] | None = None) -> CycleReport:
        """One cycle over these feeds (default: all configured feeds)."""
        return await self.pipeline.run_cycle(self.config.feeds.feeds if feeds is None else feeds)

    async def poll_due(self) -> CycleReport | None:
        """One cycle over the feeds that are due now, or None when none is."""
        states = await asyncio.to_thread(self.store.feed_states)
        due = due_feeds(self.config.feeds.feeds, states, datetime.now(UTC))
        if not due:
            return None
        return await self.poll(due)

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        self.parse_pool.close()
        self.store.close()


def print_report(report: CycleReport, config: Config, out: TextIO) -> None:
    """Print a cycle's new matched items to the console, once each."""
    for recorded in report.alerts:
        print(format_alert(recorded.stored, config.entity_name, backfill=recorded.stored.backfill),
              file=out, flush=True)


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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    log.info("newsbot running with %d feeds (console alerts: no TELEGRAM_BOT_TOKEN set)",
             len(runtime.config.feeds.feeds))
    while not stop.is_set():
        report = await runtime.poll_due()
        if report is not None:
            print_report(report, runtime.config, out)
            log.info("cycle: %s", report.summary())
            if on_cycle:
                on_cycle(report)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick)
        except TimeoutError:
            pass
    log.info("newsbot stopped")
