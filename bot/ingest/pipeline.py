"""One poll cycle: fetch → parse, key, match, read as events (bot/ingest/reader.py) → store
(new items, stories, alerts and outbox rows).

The pipeline knows nothing of Telegram. Its collaborators are injected: the fetcher, the
store, the reader (the rules: a matcher and an event describer), and where parsing runs.
Blocking work (parsing, matching, SQLite) runs off the event loop. A feed's failure is
recorded as that feed's error and never stops the other feeds of the cycle.

In a cold cycle of many feeds the stages are bounded so memory stays flat: a body is read
only when one of STAGE_LIMIT slots is free, parsing runs in worker processes, and one writer
records the parsed feeds in groups (one transaction each).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from bot.errors import ParseError
from bot.ingest.reader import Reader, ReadFeed, read_body, worker_started
from bot.ingest.registry import FilingIntake
from bot.models import Feed, FetchResult, Item, Validators
from bot.schedule import OutageDetector, PollPolicy, next_poll_time
from bot.store import (
    FeedState,
    FetchRecord,
    NewItem,
    PollOutcome,
    PollRecord,
    Recorded,
    Store,
)
from bot.store.filings import FilingOutcome

log = logging.getLogger(__name__)

Outcome = Literal["ok", "not_modified", "unchanged", "failed"]

# Bodies read and not yet stored, at once: a bound on memory (a few hundred kB), with room
# for the parse workers to stay busy and for the writer to find several feeds to record in
# one transaction (see _Writer).
STAGE_LIMIT = 32
# Below this many bodies in a cycle, a process pool costs more to start than it saves.
PROCESS_POOL_THRESHOLD = 8


class Fetches(Protocol):
    async def fetch(self, feed: Feed, validators: Validators, *,
                    admit: Callable[[], Awaitable[None]] | None = None) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class FeedReport:
    """What one feed did in one cycle."""

    feed: str
    outcome: Outcome
    items_seen: int = 0
    items_new: int = 0
    error: str | None = None
    bozo: str | None = None
    filing: FilingOutcome | None = None  # a filing list's recorded batch


@dataclass(slots=True)
class CycleReport:
    """What one cycle did, for the summary line, the console and `poll --json`."""

    started: datetime
    feeds: list[FeedReport] = field(default_factory=list)
    alerts: list[Recorded] = field(default_factory=list)  # one per new story that alerts
    followups: list[Recorded] = field(default_factory=list)  # new sources of alerted stories
    duration: float = 0.0

    def count(self, *outcomes: Outcome) -> int:
        return sum(1 for f in self.feeds if f.outcome in outcomes)

    @property
    def items_new(self) -> int:
        return sum(f.items_new for f in self.feeds)

    def summary(self) -> str:
        """The one-line summary printed to stderr after every cycle."""
        return (
            f"{len(self.feeds)} feeds: {self.count('ok')} ok, "
            f"{self.count('not_modified', 'unchanged')} not modified, "
            f"{self.count('failed')} failed; {self.items_new} new items, "
            f"{len(self.alerts)} alerts ({sum(r.queued for r in self.alerts)} queued for chats), "
            f"{len(self.followups)} more sources in {self.duration:.1f}s"
        )


class ParsePool:
    """Where feed bodies are parsed and read: a worker thread for a few, worker processes
    for many.

    feedparser is pure Python and holds the GIL, and so does matching; a cold cycle of a
    thousand feeds is bound by them, so on a multi-core machine they are spread over
    processes. The pool is started only when a cycle that polls many feeds actually has
    bodies to parse (a warm cycle of 304s never pays for it), and then kept for the next
    cycles — as long as the rules are the same: a worker is given its Reader when it starts,
    so new rules start new workers (the old ones finish the bodies they were given).

    By default one worker per core but one: the main process is a busy core of its own in
    such a cycle (fetching, writing), and every worker costs ~40–55 MB (bench/poll_cycle.py).
    """

    def __init__(self, workers: int | None = None) -> None:
        """`workers` processes (0: parse in a thread of this process)."""
        self._workers = max(0, (os.cpu_count() or 1) - 1) if workers is None else workers
        self._pool: Executor | None = None
        self._reader: Reader | None = None  # the reader the pool's workers were given

    async def parse(self, body: bytes, feed: Feed, headers: dict[str, str], base_url: str | None,
                    *, cycle_size: int, reader: Reader) -> ReadFeed:
        """Parse, key for stories and read off the event loop; raises ParseError like
        parse_feed."""
        loop = asyncio.get_running_loop()
        executor = self._executor(cycle_size, reader)
        job = functools.partial(read_body, body, feed=feed, headers=headers, base_url=base_url,
                                reader=None if executor is not None else reader)
        return await loop.run_in_executor(executor, job)

    def expect(self, bodies: int, reader: Reader) -> None:
        """A cycle is about to bring about this many bodies: start the workers now if it will
        use them, so that their start-up (~0.5 s of imports) overlaps the first fetches."""
        executor = self._executor(bodies, reader)
        if isinstance(executor, ProcessPoolExecutor):
            from bot.ingest.parse import load_parser

            for _ in range(self._workers):
                executor.submit(load_parser)

    def _executor(self, cycle_size: int, reader: Reader) -> Executor | None:
        if self._pool is None and (self._workers < 1 or cycle_size < PROCESS_POOL_THRESHOLD):
            return None  # the loop's default thread pool
        if self._pool is not None and self._reader is not reader:
            # new rules: the old workers finish what they were given, then exit
            self._pool.shutdown(wait=False)
            self._pool = None
        if self._pool is None:
            import multiprocessing

            # spawn, not fork: forking a process that runs threads can deadlock.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=worker_started, initargs=(reader,),
            )
            self._reader = reader
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Pipeline:
    """Runs poll cycles against injected collaborators."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetches,
        reader: Reader,
        *,
        parse_pool: ParsePool | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: PollPolicy = PollPolicy(),
        outages: OutageDetector | None = None,
        filings: FilingIntake | None = None,
    ) -> None:
        self.store = store
        self.filings = filings
        self.fetcher = fetcher
        self.reader = reader  # replaced on a reload (the rules of the next bodies parsed)
        self.parse_pool = parse_pool or ParsePool(workers=0)
        self.clock = clock
        self.policy = policy
        self.outages = outages or OutageDetector()
        self._busy: set[str] = set()
        self._stage = asyncio.Semaphore(STAGE_LIMIT)
        self._admitted = 0  # feeds holding a stage slot: body read, not yet stored
        self._writer = _Writer(store, lambda queued: self._admitted > queued)

    @property
    def busy(self) -> frozenset[str]:
        """Names of the feeds being polled right now."""
        return frozenset(self._busy)

    async def run_cycle(self, feeds: Sequence[Feed]) -> CycleReport:
        """Poll these feeds once, concurrently; never raises for a feed's failure."""
        started = self.clock()
        t0 = time.perf_counter()
        report = CycleReport(started=started)
        # A feed stays busy until its outcome is recorded (some are recorded after the
        # gather), so an overlapping cycle can never poll it again in between.
        mine = [f for f in feeds if f.name not in self._busy]
        self._busy.update(f.name for f in mine)
        try:
            states = await asyncio.to_thread(self.store.feeds.states, [f.name for f in mine])
            # a feed never fetched, or without validators, answers with a body
            self.parse_pool.expect(sum(
                1 for f in mine
                if (state := states.get(f.name)) is None
                or not (state.validators.etag or state.validators.last_modified)), self.reader)
            unchanged: list[FetchRecord] = []  # this cycle's 304s, written in one transaction
            results = await asyncio.gather(
                *(self._poll_feed(feed, states.get(feed.name), len(mine), unchanged)
                  for feed in mine)
            )
            if unchanged:
                await asyncio.to_thread(self.store.feeds.record_fetches, unchanged)
            unreachable = [(feed, res) for feed, res, _, _ in results if res is not None]
            if unreachable:
                await self._record_unreachable(unreachable, states)
        finally:
            self._busy.difference_update(f.name for f in mine)
        for _, _, feed_report, recorded in results:
            report.feeds.append(feed_report)
            for r in recorded:
                (report.alerts if r.kind == "alert" else report.followups).append(r)
        report.duration = time.perf_counter() - t0
        return report

    async def _record_unreachable(
        self, failures: list[tuple[Feed, FetchResult]], states: dict[str, FeedState]
    ) -> None:
        """Record feeds that got no HTTP answer; in an outage of ours, do not count them."""
        now = self.clock()
        outage = self.outages.is_outage(now)
        if outage:
            log.warning("no feed answered in the last %.0fs across several hosts: network "
                        "outage suspected; %d failures not counted against the feeds",
                        self.outages.window, len(failures))
        for feed, result in failures:
            state = states.get(feed.name)
            errors = (state.consecutive_errors if state else 0) + (0 if outage else 1)
            error = f"{result.error} (network outage suspected: not counted)" if outage else None
            await asyncio.to_thread(
                self.store.feeds.record_fetch, feed, result, now, error=error, count_error=not outage,
                next_poll=self._next_poll(feed, now, errors, result.headers),
            )

    def _next_poll(self, feed: Feed, now: datetime, errors: int,
                   headers: dict[str, str] | None = None, ttl: int | None = None) -> datetime:
        return next_poll_time(feed, now, consecutive_errors=errors, headers=headers,
                              ttl_minutes=ttl, policy=self.policy)

    async def _poll_feed(
        self, feed: Feed, state: FeedState | None, cycle_size: int,
        unchanged: list[FetchRecord],
    ) -> tuple[Feed, FetchResult | None, FeedReport, list[Recorded]]:
        """Poll one feed. A transport failure is returned (second) to be recorded later;
        an unchanged feed's record is appended to `unchanged`."""
        try:
            return await self._poll_feed_unguarded(feed, state, cycle_size, unchanged)
        except Exception as exc:  # a bug must not take the other feeds down
            log.exception("feed %s: unexpected error", feed.name)
            now = self.clock()
            error = f"internal error: {type(exc).__name__}: {exc}"
            errors = (state.consecutive_errors if state else 0) + 1
            await asyncio.to_thread(
                self.store.feeds.record_fetch, feed, FetchResult("error", feed.url, error=error), now,
                error=error, next_poll=self._next_poll(feed, now, errors),
            )
            return feed, None, FeedReport(feed.name, "failed", error=error), []

    async def _poll_feed_unguarded(
        self, feed: Feed, state: FeedState | None, cycle_size: int,
        unchanged: list[FetchRecord],
    ) -> tuple[Feed, FetchResult | None, FeedReport, list[Recorded]]:
        validators = state.validators if state else Validators()
        errors_so_far = state.consecutive_errors if state else 0
        never_succeeded = state is None or state.last_ok is None
        # Backpressure: in a cold cycle fetching outruns parsing and the one writer. A body is
        # read only once a stage slot is free (the rest wait in their sockets), and the slot
        # is held until the feed is stored, so at most STAGE_LIMIT bodies and parsed feeds
        # are in memory at once, however many feeds the cycle polls.
        admitted = False

        async def admit() -> None:
            nonlocal admitted
            await self._stage.acquire()
            admitted = True
            self._admitted += 1

        try:
            result = await self.fetcher.fetch(feed, validators, admit=admit)
            return await self._conclude(feed, result, state, validators, errors_so_far,
                                        never_succeeded, cycle_size, unchanged)
        finally:
            if admitted:
                self._admitted -= 1
                self._stage.release()

    async def _conclude(
        self, feed: Feed, result: FetchResult, state: FeedState | None, validators: Validators,
        errors_so_far: int, never_succeeded: bool, cycle_size: int,
        unchanged: list[FetchRecord],
    ) -> tuple[Feed, FetchResult | None, FeedReport, list[Recorded]]:
        now = self.clock()
        answered = result.http_status is not None
        self.outages.record(now, urlsplit(feed.url).netloc, answered)
        if result.status == "error":
            report = FeedReport(feed.name, "failed", error=result.error)
            if not answered:
                return feed, result, report, []  # recorded after the cycle: outage or not?
            await asyncio.to_thread(
                self.store.feeds.record_fetch, feed, result, now,
                next_poll=self._next_poll(feed, now, errors_so_far + 1, result.headers),
            )
            return feed, None, report, []
        if result.status in ("not_modified", "unchanged"):
            # Batched: a warm cycle of a thousand 304s is one transaction, not a thousand.
            unchanged.append(FetchRecord(
                feed, result, now, next_poll=self._next_poll(feed, now, 0, result.headers)))
            return feed, None, FeedReport(feed.name, result.status), []
        if feed.filing is not None:
            return await self._record_filings(feed, result, now, validators, errors_so_far,
                                              never_succeeded)
        return await self._parse_and_store(feed, result, now, validators, errors_so_far,
                                           never_succeeded, cycle_size)

    async def _bad_body(self, feed: Feed, error: str, now: datetime, validators: Validators,
                        errors_so_far: int) -> tuple[Feed, FetchResult | None, FeedReport,
                                                     list[Recorded]]:
        """Record a body that is no feed (or no filing list) as the feed's error."""
        # Forget the body hash: the same bad body must be reported again, not skipped.
        failed = FetchResult("error", feed.url, error=error, validators=validators)
        await asyncio.to_thread(
            self.store.feeds.record_fetch, feed, failed, now, error=error,
            next_poll=self._next_poll(feed, now, errors_so_far + 1),
        )
        return feed, None, FeedReport(feed.name, "failed", error=error), []

    async def _record_filings(
        self, feed: Feed, result: FetchResult, now: datetime, validators: Validators,
        errors_so_far: int, never_succeeded: bool,
    ) -> tuple[Feed, FetchResult | None, FeedReport, list[Recorded]]:
        """A filing list's new body: its filings and batch alerts (bot/ingest/registry.py)."""
        if self.filings is None:
            return await self._bad_body(feed, "filing lists are not read by this pipeline",
                                        now, validators, errors_so_far)
        fetch = FetchRecord(feed, result, now,
                            next_poll=self._next_poll(feed, now, 0, result.headers))
        backfill = never_succeeded and feed.backfill == "silent"
        try:
            outcome = await asyncio.to_thread(self.filings.record, feed, result, fetch, now,
                                              alert=not backfill)
        except ParseError as exc:
            return await self._bad_body(feed, str(exc), now, validators, errors_so_far)
        log.info("feed %s: %s %s, %d new filings, %d updated; batch alert queued for %d chats",
                 feed.name, outcome.batch.kind, outcome.batch.label, outcome.new,
                 outcome.updated, outcome.queued)
        report = FeedReport(feed.name, "ok", items_seen=outcome.new + outcome.updated
                            + outcome.unchanged, items_new=outcome.new, filing=outcome)
        return feed, None, report, []

    async def _parse_and_store(
        self, feed: Feed, result: FetchResult, now: datetime, validators: Validators,
        errors_so_far: int, never_succeeded: bool, cycle_size: int,
    ) -> tuple[Feed, FetchResult | None, FeedReport, list[Recorded]]:
        try:
            read = await self.parse_pool.parse(
                result.body or b"", feed, result.headers, result.final_url or result.url,
                cycle_size=cycle_size, reader=self.reader,
            )
        except ParseError as exc:
            return await self._bad_body(feed, str(exc), now, validators, errors_so_far)

        parsed = read.parsed
        items = new_items(read)
        fetch = FetchRecord(feed, result, now, bozo=parsed.bozo,
                            next_poll=self._next_poll(feed, now, 0, result.headers, parsed.ttl))
        backfill = never_succeeded and feed.backfill == "silent"
        outcome = await self._writer.record(PollRecord(fetch, items, backfill))
        report = FeedReport(feed.name, "ok", items_seen=len(parsed.items),
                            items_new=outcome.new, bozo=parsed.bozo)
        return feed, None, report, outcome.recorded


def new_items(read: ReadFeed) -> list[NewItem]:
    """Every distinct item of a body read, with its hits, story keys and event form. The
    store skips those it knows; reading them too costs less than asking the writer first
    (it is busy in a cold cycle)."""
    first: dict[str, Item] = {}
    for item in read.parsed.items:
        first.setdefault(item.key, item)
    return [NewItem(first[key], hits, read.story_keys.get(key), event, stored)
            for key, (hits, event, stored) in read.readings.items()]


class _Writer:
    """The one writer. Feeds that finished parsing queue here and are recorded together, in
    one transaction (Store.record_polls): a group of 16 feeds costs a quarter less per item
    than one feed at a time (bench/poll_cycle.py's cold cycle). So while more feeds are on
    their way (`more_coming`: admitted, not yet queued) the writer waits for `min_group`
    of them, at most `linger` seconds; otherwise it writes what it has at once."""

    def __init__(self, store: Store, more_coming: Callable[[int], bool], *,
                 min_group: int = 16, max_group: int = 64, linger: float = 0.5) -> None:
        self._store = store
        self._more_coming = more_coming
        self._min_group = min_group
        self._max_group = max_group
        self._linger = linger
        self._queue: list[tuple[PollRecord, asyncio.Future[PollOutcome]]] = []
        self._grew = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, poll: PollRecord) -> PollOutcome:
        """Record one feed's poll; raises what recording it raised."""
        future: asyncio.Future[PollOutcome] = asyncio.get_running_loop().create_future()
        self._queue.append((poll, future))
        self._grew.set()
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _gather(self) -> None:
        """Wait, within the linger time, for a group worth a transaction."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self._linger
        while (len(self._queue) < self._min_group and self._more_coming(len(self._queue))
               and (left := until - loop.time()) > 0):
            self._grew.clear()
            try:
                async with asyncio.timeout(left):
                    await self._grew.wait()
            except TimeoutError:
                return

    async def _drain(self) -> None:
        group: list[tuple[PollRecord, asyncio.Future[PollOutcome]]] = []
        try:
            while self._queue:
                await self._gather()
                group = self._queue[: self._max_group]
                del self._queue[: self._max_group]
                try:
                    results = await asyncio.to_thread(
                        self._store.intake.record_polls, [poll for poll, _ in group])
                except Exception as exc:  # the whole group failed: each feed reports it
                    results = [exc] * len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                group = []
        finally:
            self._task = None
            for _, future in [*group, *self._queue]:  # cancelled mid-way (shutdown)
                future.cancel()
            self._queue.clear()
