"""What a running newsbot holds: configuration, store, fetcher, pipeline.

`Runtime` is built once by the CLI and shared by the console loop (no Telegram token) and the
Telegram application (`bot.telegram.app`). It owns the current configuration and swaps it atomically on
reload: a broken edit leaves the last good configuration running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import ConfigError
from bot.ingest.fetch import Fetcher, FetchLimits
from bot.ingest.pipeline import CycleReport, ParsePool, Pipeline
from bot.ingest.reader import Reader
from bot.ingest.registry import FilingIntake
from bot.models import Feed, Hit
from bot.render.digest import render_digest
from bot.render.filings import render_batch_alert
from bot.render.i18n import translator
from bot.render.notices import config_notice, health_notice
from bot.render.terminal import format_alert, format_filings, format_followup
from bot.run.configuration import Config, config_signature, describe_change, load_config
from bot.run.metrics import Metrics, serve_metrics
from bot.schedule import PollPolicy, assess_health, due_feeds, next_due
from bot.store import BatchNews, Store

log = logging.getLogger(__name__)


class Runtime:
    """The long-lived parts of a running bot, wired once."""

    def __init__(self, settings: Settings, config: Config, *, workers: int | None = None,
                 policy: PollPolicy | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.config = config
        # No feed is due sooner than the scheduler's next look at the clock.
        self.policy = policy or PollPolicy(min_delay=settings.tick)
        self.metrics = metrics or Metrics(interval=self.shortest_interval)
        self.store = Store(settings.db_path)
        self.fetcher = Fetcher(FetchLimits())
        self.parse_pool = ParsePool(workers)
        self.filings = FilingIntake(self.store, lambda: self.config.watchlists,
                                    self.compose_batch_alert)
        self.pipeline = Pipeline(
            self.store, self.fetcher, Reader.of(config.watchlists), parse_pool=self.parse_pool,
            policy=self.policy, filings=self.filings,
        )
        self._signature = config_signature(settings)
        self._reported_problems: tuple[str, ...] = ()

    def match(self, title: str, summary: str) -> list[Hit]:
        """The current watchlists' matcher (the reader the next bodies are read with)."""
        return self.pipeline.reader.match(title, summary)

    def compose_batch_alert(self, news: BatchNews, lang: str | None = None) -> str:
        """A filing batch's alert for one chat, in its language, with the current
        watchlists' names."""
        return render_batch_alert(news, self.config.watchlists, translator(lang)).html

    def shortest_interval(self) -> float:
        """The shortest poll interval of the configured feeds, seconds (/healthz's unit)."""
        return min((f.interval for f in self.config.feeds.feeds), default=600.0)

    def reload(self) -> Config:
        """Re-read feeds and rules; keep the old configuration when the new one is broken."""
        self._signature = config_signature(self.settings)
        try:
            config = load_config(self.settings)  # raises ConfigError, self.config untouched
        except ConfigError:
            self.metrics.reloaded(ok=False)
            raise
        self.metrics.reloaded(ok=True)
        self.config = config
        self.pipeline.reader = Reader.of(config.watchlists)
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
                bad = exc.problems
                await self.notify_admins(lambda tr: config_notice(bad, tr))
            return
        log.info("configuration reloaded: %s", describe_change(old, new).replace("\n", "; "))

    async def notify_admins(self, notice: Callable[..., str]) -> None:
        """Queue a notice for every admin's private chat, each in the admin's language
        (nothing to do without admins)."""
        if not (self.settings.admins and self.settings.telegram_token):
            return
        for admin in self.settings.admins:
            sub = await asyncio.to_thread(self.store.subscribers.get, admin)
            html = notice(tr=translator(sub.lang if sub else None))
            await asyncio.to_thread(self.store.outbox.enqueue_notice, [admin], html,
                                    datetime.now(UTC))

    async def check_health(self, now: datetime | None = None) -> list[str]:
        """Raise one admin notice per change of a feed's health (failing, silent, recovered)."""
        now = now or datetime.now(UTC)
        feeds = {f.name: f for f in self.config.feeds.feeds}
        notices = []
        counts: dict[str, int] = {}
        for h in await asyncio.to_thread(self.store.feeds.health_inputs):
            feed = feeds.get(h.feed)
            if feed is None:
                continue  # removed from feeds.yaml: its history stays, its alarms stop
            health = assess_health(h.first_error_at, h.arrivals, now, self.policy)
            counts[health] = counts.get(health, 0) + 1
            if health == h.health:
                continue
            await asyncio.to_thread(self.store.feeds.set_health, h.feed, health, now)
            notice = functools.partial(health_notice, feed.name, feed.url, h.health, health,
                                       since=h.first_error_at, last_error=h.last_error, now=now)

            log.warning("feed %s: %s → %s%s", feed.name, h.health, health,
                        f" (last error: {h.last_error})" if health == "failing" else "")
            await self.notify_admins(notice)
            notices.append(notice())
        # A feed not polled yet has no state: "ok", as the store's default health says.
        counts["ok"] = counts.get("ok", 0) + len(feeds) - sum(counts.values())
        self.metrics.set_feeds(counts)
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
            messages = render_digest(held, self.config.watchlists, chat_tz=chat.digest_tz, now=now,
                                     tr=translator(chat.lang))
            sent = await asyncio.to_thread(
                self.store.digests.release, chat.chat_id, messages, now,
                outbox_ids=[h.outbox_id for h in held])
            if sent:
                log.info("chat %s: digest of %d alerts in %d messages", chat.chat_id, len(held),
                         sent)
            queued += sent
        return queued

    async def send_weeklies(self, now: datetime | None = None) -> int:
        """Queue the weekly brief of every chat whose weekday and time have come (once per
        chat and week: bot/run/weekly.py); return the briefs queued."""
        from bot.run.weekly import send_weeklies

        return await send_weeklies(self.store, self.config.watchlists, now or datetime.now(UTC))

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

    async def read_outbox_depth(self) -> None:
        """The outbox rows by state into the metrics (read when /metrics is scraped)."""
        self.metrics.set_outbox(await asyncio.to_thread(self.store.outbox.depth))

    async def serve_metrics(self) -> Any:
        """Start /metrics and /healthz when NEWSBOT_METRICS_PORT is set (else None)."""
        return await serve_metrics(self.metrics, self.settings.metrics_listen,
                                   before_scrape=self.read_outbox_depth)

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
    for feed in report.feeds:
        if feed.filing is not None and feed.filing.new:
            print(format_filings(feed.feed, feed.filing, config.entity_name), file=out, flush=True)
