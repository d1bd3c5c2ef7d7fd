"""The scheduler: every tick, start a cycle for the due feeds, and look after the rest.

Driven by the JobQueue (Telegram mode) or the console loop; config edits, feed health and
digests are checked on their own periods. A slow feed never holds back the others.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from bot.ingest.pipeline import CycleReport
from bot.run.runtime import Runtime

log = logging.getLogger(__name__)


class Scheduler:
    """Drives a Runtime: called every tick (by the JobQueue, or the console loop).

    Each tick starts a cycle for the feeds that are due (in the background: a slow feed
    never holds back the others, and a feed already being polled is skipped), checks the
    configuration files for edits every `reload_every` seconds (by default every two ticks
    of the runtime's settings), feed health every `health_every` seconds, due digests and
    weekly briefs every `digest_every` seconds. `on_cycle` receives each finished cycle's
    report.
    """

    def __init__(
        self,
        runtime: Runtime,
        on_cycle: Callable[[CycleReport], None] | None = None,
        *,
        reload_every: float | None = None,
        health_every: float = 60.0,
        digest_every: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.on_cycle = on_cycle
        self.reload_every = 2 * runtime.settings.tick if reload_every is None else reload_every
        self.health_every = health_every
        self.digest_every = digest_every
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
        if loop.time() - self._last_digest >= self.digest_every:
            self._last_digest = loop.time()
            # Digests and briefs apart: a failing health check (or chart) must not hold
            # back anyone's digest.
            try:
                await self.runtime.send_digests()
            except Exception:
                log.exception("sending digests failed")
            try:
                await self.runtime.send_weeklies()
            except Exception:
                log.exception("queueing weekly briefs failed")
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
        self.runtime.metrics.cycle_ended(report)
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
