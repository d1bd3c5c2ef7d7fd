"""Health and metrics of a running bot: Prometheus metrics, `/healthz`, and their HTTP server.

`Metrics` is one registry per Runtime (never module state, so tests and two bots in one
process do not share counters). The scheduler reports each finished cycle, the runtime each
reload; delivery counters are read from the delivery worker's own stats when scraped, so the
worker needs no hook; feeds by health are refreshed at each health check, the outbox depth
when scraped.

`Health` answers `/healthz`: healthy while the last cycle ended within three poll intervals
(the shortest feed interval; since start before the first cycle) and the delivery worker, when
there is one, is running. `MetricsServer` serves both on the bot's own event loop (asyncio
streams, no thread), started with NEWSBOT_METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.errors import NewsbotError
from bot.ingest.pipeline import CycleReport

log = logging.getLogger(__name__)

STALL_INTERVALS = 3  # cycles missing for this many poll intervals: unhealthy


class DeliveryStats(Protocol):
    """What the delivery worker counts (bot.telegram.deliver.WorkerStats)."""

    sent: int
    retried: int
    flood_waits: int
    failed: int
    gone: int


@dataclass
class Health:
    """Is the bot alive? Fed by the scheduler (cycle ends) and the worker's liveness."""

    interval: Callable[[], float]  # the shortest poll interval now, seconds
    clock: Callable[[], float] = time.monotonic
    worker_alive: Callable[[], bool] | None = None  # None: no worker (console mode)
    started: float = 0.0
    last_cycle_end: float | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def cycle_ended(self) -> None:
        """A poll cycle just finished."""
        self.last_cycle_end = self.clock()

    def check(self) -> tuple[bool, str]:
        """(healthy, the reason in one line)."""
        now = self.clock()
        limit = STALL_INTERVALS * self.interval()
        if self.worker_alive is not None and not self.worker_alive():
            return False, "the outbox delivery worker is not running"
        if self.last_cycle_end is None:
            if now - self.started > limit:
                return False, (f"no poll cycle has ended since start {now - self.started:.0f}s "
                               f"ago (limit {limit:.0f}s: {STALL_INTERVALS} poll intervals)")
            return True, "starting: no poll cycle has ended yet"
        age = now - self.last_cycle_end
        if age > limit:
            return False, (f"the last poll cycle ended {age:.0f}s ago (limit {limit:.0f}s: "
                           f"{STALL_INTERVALS} poll intervals); polling is stalled")
        return True, f"ok: the last poll cycle ended {age:.0f}s ago"


class Metrics:
    """The bot's Prometheus metrics, in a registry of its own."""

    def __init__(self, *, interval: Callable[[], float] = lambda: 600.0,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.registry = r = CollectorRegistry()
        self.wall = wall
        self.health = Health(interval, clock)
        self.cycle_seconds = Histogram(
            "newsbot_cycle_duration_seconds", "Duration of poll cycles",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300), registry=r)
        self.feed_polls = Counter("newsbot_feed_polls", "Feed polls by outcome",
                                  ["outcome"], registry=r)
        self.items = Counter("newsbot_items_new", "New items stored", registry=r)
        self.alerts = Counter("newsbot_alerts", "New stories alerted (one alert per story)",
                              registry=r)
        self.alerts_queued = Counter("newsbot_alert_deliveries_queued",
                                     "Alert messages queued for chats", registry=r)
        self.sources_added = Counter("newsbot_story_sources_added",
                                     "New items that joined a story already alerted",
                                     registry=r)
        self.reloads = Counter("newsbot_config_reloads", "Configuration reloads by result "
                               "(ok, failed: the last good configuration kept running)",
                               ["result"], registry=r)
        self.last_success = Gauge("newsbot_last_successful_cycle_timestamp_seconds",
                                  "When the last cycle with at least one feed polled without "
                                  "error ended (Unix time)", registry=r)
        self.feeds = Gauge("newsbot_feeds", "Configured feeds by health", ["health"],
                           registry=r)
        self.outbox = Gauge("newsbot_outbox_rows", "Outbox rows by state (pending, held: the "
                            "depth)", ["state"], registry=r)
        self.delivery: DeliveryStats | None = None
        r.register(_DeliveryCollector(self))
        for result in ("ok", "failed"):
            self.reloads.labels(result)
        for outcome in ("ok", "not_modified", "unchanged", "failed"):
            self.feed_polls.labels(outcome)

    def cycle_ended(self, report: CycleReport) -> None:
        """Count one finished cycle (called by the scheduler)."""
        self.health.cycle_ended()
        self.cycle_seconds.observe(report.duration)
        for feed in report.feeds:
            self.feed_polls.labels(feed.outcome).inc()
        self.items.inc(report.items_new)
        self.alerts.inc(len(report.alerts))
        self.alerts_queued.inc(sum(r.queued for r in report.alerts))
        self.sources_added.inc(len(report.followups))
        if not report.feeds or report.count("failed") < len(report.feeds):
            self.last_success.set(self.wall())

    def reloaded(self, ok: bool) -> None:
        """Count a configuration reload (ok, or failed with the old one kept)."""
        self.reloads.labels("ok" if ok else "failed").inc()

    def set_feeds(self, feeds: dict[str, int]) -> None:
        """Configured feeds by health, as the last health check found them."""
        for health in {"ok", "failing", "silent", *feeds}:
            self.feeds.labels(health).set(feeds.get(health, 0))

    def set_outbox(self, outbox: dict[str, int]) -> None:
        """Outbox rows waiting, by state (pending, held), as just read from the store; sent
        and failed messages are counted by newsbot_messages_sent / _deliveries_failed."""
        for state in {"pending", "held", *outbox}:
            self.outbox.labels(state).set(outbox.get(state, 0))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class _DeliveryCollector:
    """The delivery worker's counters, read at scrape time (zero without a worker)."""

    NAMES = (("newsbot_messages_sent", "Messages Telegram accepted", "sent"),
             ("newsbot_telegram_flood_waits", "429 answers (flood control waits)", "flood_waits"),
             ("newsbot_delivery_retries", "Transient delivery failures retried", "retried"),
             ("newsbot_deliveries_failed", "Deliveries given up", "failed"),
             ("newsbot_chats_deactivated", "Chats found gone (blocked, kicked)", "gone"))

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """The counters as they are now (prometheus-client calls this at each scrape)."""
        stats = self.metrics.delivery
        for name, doc, attribute in self.NAMES:
            yield CounterMetricFamily(name, doc, value=getattr(stats, attribute, 0))


class MetricsServer:
    """GET /metrics and /healthz over plain HTTP/1.1 on the running loop."""

    def __init__(self, metrics: Metrics, host: str, port: int, *,
                 before_scrape: Callable[[], Awaitable[None]] | None = None) -> None:
        self.metrics = metrics
        self.before_scrape = before_scrape  # reads what is cheaper read when asked (outbox)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; log where (port 0: a free port, then self.port is the real one)."""
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise NewsbotError(f"cannot serve /metrics on {self.host}:{self.port} ({exc}); "
                               "set NEWSBOT_METRICS_PORT to a free port") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)

    async def close(self) -> None:
        """Stop listening and close the open connections."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of `path`."""
        if path == "/metrics":
            if self.before_scrape is not None:
                try:
                    await self.before_scrape()
                except Exception:  # a busy store must not make the scrape fail
                    log.exception("reading the store for /metrics failed")
            return 200, CONTENT_TYPE_LATEST, self.metrics.exposition()
        if path == "/healthz":
            ok, reason = self.metrics.health.check()
            return (200 if ok else 503), "text/plain; charset=utf-8", (reason + "\n").encode()
        return 404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            method, target, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method not in ("GET", "HEAD"):
                status, kind, body = 405, "text/plain", b"GET only\n"
            else:
                status, kind, body = await self.respond(target.split("?", 1)[0])
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError):
            pass  # a client that went away or spoke no HTTP
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


async def serve_metrics(metrics: Metrics, listen: tuple[str, int] | None, *,
                        before_scrape: Callable[[], Awaitable[None]] | None = None,
                        ) -> MetricsServer | None:
    """Start the metrics server when configured (NEWSBOT_METRICS_PORT); None otherwise."""
    if listen is None:
        return None
    server = MetricsServer(metrics, *listen, before_scrape=before_scrape)
    await server.start()
    return server
