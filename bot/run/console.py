"""Console mode: no Telegram token, alerts printed to the terminal as cycles end."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from bot.ingest.pipeline import CycleReport
from bot.run.runtime import Runtime, print_report
from bot.run.scheduler import Scheduler, stop_on_signals

log = logging.getLogger(__name__)


async def run_console(
    runtime: Runtime,
    *,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
    tick: float | None = None,
    on_cycle: Callable[[CycleReport], None] | None = None,
) -> None:
    """Poll every feed on its interval and print alerts, until SIGINT/SIGTERM or `stop`.

    `tick`: the longest sleep between two looks at the clock (default: the settings')."""
    stop = stop or asyncio.Event()
    tick = runtime.settings.tick if tick is None else tick
    stop_on_signals(stop)
    log.info("newsbot running with %d feeds (console alerts: no TELEGRAM_BOT_TOKEN set)",
             len(runtime.config.feeds.feeds))

    def show(report: CycleReport) -> None:
        print_report(report, runtime.config, out)
        if on_cycle:
            on_cycle(report)

    scheduler = Scheduler(runtime, show)
    metrics_server = await runtime.serve_metrics()
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
    if metrics_server is not None:
        await metrics_server.close()
    log.info("newsbot stopped")
