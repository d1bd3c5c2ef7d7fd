"""Composition root of the Telegram bot: build the PTB Application, wire handlers and jobs, run.

One process, one event loop: the Application (long polling for commands), a JobQueue job
that runs a poll cycle for the feeds that are due, and the delivery worker that drains the
outbox. The worker is our own task rather than a JobQueue job because APScheduler cancels
coroutine jobs on shutdown, and a clean stop must let the message in flight finish.

Shutdown on SIGTERM/SIGINT: stop taking updates, stop the poll job, let the worker finish
what it is sending (the rest stays queued in SQLite), close the bot, close the store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.ingest.pipeline import CycleReport
from bot.render.alerts import alert_buttons, render_alert
from bot.render.i18n import translator
from bot.render.replies import render_notice
from bot.render.text import RenderedMessage, cut
from bot.run.configuration import Config
from bot.run.runtime import Runtime
from bot.run.scheduler import Scheduler, stop_on_signals
from bot.telegram.buttons import button_key, sign
from bot.telegram.commands import Commands, Services, register_commands
from bot.telegram.deliver import DeliveryLimits, DeliveryWorker, TelegramNotifier
from bot.telegram.topics import TopicFallback

log = logging.getLogger(__name__)

LONG_POLL = 10  # getUpdates timeout, seconds


def build_application(settings: Settings, *, limits: DeliveryLimits) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application, pointed at settings.telegram_api_url; no token in any log."""
    assert settings.telegram_token, "build_application needs a token"
    root = settings.telegram_api_url.rstrip("/")
    # Enough connections for the sends in flight plus command replies.
    request = HTTPXRequest(connection_pool_size=limits.max_in_flight + 8, connect_timeout=5.0,
                           read_timeout=10.0, write_timeout=10.0, pool_timeout=5.0)
    updates_request = HTTPXRequest(connection_pool_size=2, read_timeout=LONG_POLL + 5.0)
    return (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(request)
        .get_updates_request(updates_request)
        .concurrent_updates(True)
        .build()
    )


def alert_renderer(runtime: Runtime, key: bytes | None = None) -> Any:
    """Render an outbox job with the watchlists current at send time (reload-safe), in its
    chat's language; with a button `key`, an alert carries its buttons (mute, sources),
    signed for its chat, on the first send and on every "+N sources" edit alike."""

    def render(job: Any) -> RenderedMessage:
        if job.item is None:  # a notice, a digest, a weekly brief: ready HTML (+ a chart)
            message = render_notice(job.text or "")
            photo = getattr(job, "photo", None)
            return replace(message, photo=photo) if photo else message
        tr = translator(getattr(job, "lang", None))
        watchlists = runtime.config.watchlists
        message = render_alert(job.item, job.item.hits, watchlists, feed_title=job.item.feed,
                               sources=job.sources, tr=tr)
        if key is None:
            return message
        buttons = alert_buttons(
            job.item.hits, watchlists, story_id=job.item.story_id, sources=len(job.sources),
            data=lambda kind, value: sign(key, job.chat_id, kind, value),
            muted=getattr(job, "muted", ()), tr=tr)
        return replace(message, buttons=buttons)

    return render


class TelegramBot:
    """The running bot: Application + poll job + delivery worker, started and stopped together."""

    def __init__(self, settings: Settings, runtime: Runtime, *,
                 limits: DeliveryLimits | None = None) -> None:
        self.settings = settings
        # An idle worker looks for due rows (retries, edits, notices) once a tick.
        limits = limits or DeliveryLimits(idle_poll=settings.tick)
        self.runtime = runtime
        self.app = build_application(settings, limits=limits)
        key = button_key(settings.telegram_token or "")
        self.worker = DeliveryWorker(runtime.store.outbox, runtime.store.subscribers,
                                     TelegramNotifier(self.app.bot),
                                     alert_renderer(runtime, key), limits=limits,
                                     on_topic_gone=TopicFallback(runtime.store))
        self.services = Services(store=runtime.store, runtime=runtime,
                                 admins=frozenset(settings.admins), worker=self.worker, key=key)
        for handler in Commands(self.services).handlers():
            self.app.add_handler(handler)
        self.app.add_error_handler(self.on_error)
        self.poll_tick = settings.tick  # looks for due feeds (each keeps its own interval)
        # The runtime's scheduler: due cycles in the background, hot reload, feed health.
        self.scheduler = Scheduler(runtime, self.on_cycle)
        self._worker_task: asyncio.Task[None] | None = None

    async def poll_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """JobQueue callback: one scheduler tick (starts the cycles of the due feeds)."""
        await self.scheduler.tick()

    def on_cycle(self, report: CycleReport) -> None:
        """A cycle finished: remember when (for /status); wake the worker for new alerts."""
        self.services.last_cycle = report.started
        if any(r.queued for r in report.alerts):
            self.worker.kick()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler error first (the logging filter redacts the token), then tell admins."""
        log.error("error handling %s", type(update).__name__, exc_info=context.error)
        text = f"newsbot error: {type(context.error).__name__}: {context.error}"
        text = text.replace(self.settings.telegram_token or "\0", "<token>")
        for admin in self.settings.admins:
            try:
                await context.bot.send_message(admin, cut(text, 1000))
            except TelegramError as exc:  # never let the error report raise in turn
                log.warning("could not tell admin %s: %s", admin, exc)

    async def start(self) -> None:
        """Initialize the bot, register commands, start polling, the poll job and the worker."""
        await self.app.initialize()
        try:
            await register_commands(self.app.bot, self.settings.admins)
        except Exception as exc:  # a menu is a convenience; the bot works without it
            log.warning("setMyCommands failed: %s", exc)
        await self.app.start()
        assert self.app.updater is not None and self.app.job_queue is not None
        await self.app.updater.start_polling(timeout=LONG_POLL, allowed_updates=Update.ALL_TYPES)
        # coalesce + a generous grace time: a busy loop must delay a cycle, never drop it.
        self.app.job_queue.run_repeating(
            self.poll_job, interval=self.poll_tick, first=0.0, name="poll",
            job_kwargs={"coalesce": True, "misfire_grace_time": 60, "max_instances": 1})
        self._worker_task = asyncio.create_task(self.worker.run(), name="delivery")
        self.runtime.metrics.delivery = self.worker.stats
        self.runtime.metrics.health.worker_alive = self.worker_alive
        log.info("newsbot running: %d feeds, Telegram bot @%s", len(self.runtime.config.feeds.feeds),
                 self.app.bot.username)

    def worker_alive(self) -> bool:
        """Is the delivery worker running (for /healthz)?"""
        return self._worker_task is not None and not self._worker_task.done()

    async def stop(self) -> None:
        """Stop in order: updates, poll job, worker (in-flight sends finish), bot."""
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.job_queue is not None:
            for job in self.app.job_queue.jobs():
                job.schedule_removal()
        await self.scheduler.stop()
        self.worker.stop()
        if self._worker_task is not None:
            await self._worker_task
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        counts = await asyncio.to_thread(self.runtime.store.outbox.counts)
        log.info("newsbot stopped; %d deliveries left queued", counts.get("pending", 0))


async def serve(settings: Settings, config: Config, *, stop: asyncio.Event | None = None) -> None:
    """Run the Telegram bot until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    # APScheduler logs every run of the one-second poll job at INFO: noise, not news.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop_on_signals(stop)
    runtime = Runtime(settings, config)
    bot = TelegramBot(settings, runtime)
    metrics_server = None
    try:
        await bot.start()
        metrics_server = await runtime.serve_metrics()
        await stop.wait()
        log.info("stopping: finishing the messages in flight")
    finally:
        try:
            if metrics_server is not None:
                await metrics_server.close()
            await bot.stop()
        finally:
            await runtime.aclose()


def run_telegram(settings: Settings, config: Config) -> int:
    """`newsbot run` with a token: the bot, the poll job and the delivery worker; exit code."""
    from telegram.error import InvalidToken, NetworkError

    try:
        asyncio.run(serve(settings, config))
    except InvalidToken:
        log.error("the Bot API server at %s rejected TELEGRAM_BOT_TOKEN; check the token "
                  "(from @BotFather)", settings.telegram_api_url)
        return 1
    except NetworkError as exc:
        log.error("cannot reach the Bot API server at %s (%s); check TELEGRAM_API_URL",
                  settings.telegram_api_url, exc)
        return 1
    return 0


