"""Delivery: drain the SQLite outbox to a Notifier (Telegram or console), within Telegram's limits.

    DeliveryError                 what a Notifier raises; the worker decides what follows
    ├── RetryLater                429: wait `retry_after` seconds (flood control)
    ├── ChatGone                  403 / chat not found / kicked: deactivate the chat
    ├── BadMessage                400: `parse_error` → resend as plain text, else give up
    └── Transient                 timeouts, 5xx, network: retry with exponential backoff

An alert for a forum topic that was deleted (400 "message thread not found") is sent to
General at once instead; `on_topic_gone` drops the chat's routes to that topic and tells it.

Crash safety comes from the outbox: a row stays `pending` until the worker marks it `sent`,
right after Telegram accepts the message. A crash at any moment loses nothing; it can repeat
only the messages in flight (sent to Telegram, not yet marked), at most `max_in_flight`.

Rate limits are our own spacing buckets (one message every 1/rate seconds: global, per
chat, per group), so Telegram never has to refuse us; python-telegram-bot's AIORateLimiter is
not used, so exactly one place (this module) owns waiting and retrying.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO

from bot.render.text import RenderedMessage

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- errors

class DeliveryError(Exception):
    """A message could not be delivered; the subclass says what to do about it."""


class RetryLater(DeliveryError):
    """Flood control (429): nothing may be sent for `retry_after` seconds."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(message or f"flood control: retry after {retry_after}s")


class ChatGone(DeliveryError):
    """The chat cannot receive messages any more (blocked, kicked, deleted)."""


class BadMessage(DeliveryError):
    """Telegram refused the message itself (400)."""

    def __init__(self, message: str, *, parse_error: bool = False) -> None:
        self.parse_error = parse_error
        super().__init__(message)


class Transient(DeliveryError):
    """A timeout, a 5xx or a network error: the same message may succeed later."""


# ---------------------------------------------------------------------------- notifiers

class Notifier(Protocol):
    """Something that shows a message in a chat and returns its message id."""

    async def send(self, chat_id: int, message: RenderedMessage, *,
                   plain: bool = False, thread_id: int | None = None) -> int | None: ...

    async def edit(self, chat_id: int, message_id: int, message: RenderedMessage, *,
                   plain: bool = False) -> None: ...


_TOPIC_GONE_400 = ("message thread not found", "topic_deleted")
_GONE_400 = ("chat not found", "user is deactivated", "bot was kicked", "group chat was deactivated",
             "have no rights to send", "not enough rights", "peer_id_invalid")


class TelegramNotifier:
    """Sends through a python-telegram-bot `Bot`, mapping its exceptions to ours."""

    def __init__(self, bot: Any, *, disable_previews: bool = True) -> None:
        self.bot = bot
        self.disable_previews = disable_previews

    async def send(self, chat_id: int, message: RenderedMessage, *, plain: bool = False,
                   thread_id: int | None = None) -> int | None:
        """Send HTML (or the plain fallback), into a forum topic when `thread_id` is given;
        raise a DeliveryError subclass on failure."""
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
        from telegram.constants import ParseMode

        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                            for b in row] for row in message.buttons])
        text = message.plain if plain else message.html
        parse_mode = None if plain else ParseMode.HTML
        async with _telegram_errors():
            if message.photo is not None:  # a weekly brief: the chart, the text its caption
                sent = await self.bot.send_photo(chat_id, photo=message.photo, caption=text,
                                                 parse_mode=parse_mode, reply_markup=markup,
                                                 message_thread_id=thread_id)
            else:
                sent = await self.bot.send_message(
                    chat_id, text, parse_mode=parse_mode, reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=self.disable_previews),
                    message_thread_id=thread_id)
        return int(sent.message_id)

    async def edit(self, chat_id: int, message_id: int, message: RenderedMessage, *,
                   plain: bool = False) -> None:
        """Replace a sent message's text (a story's "+N sources"); same errors as send. Its
        buttons are sent again: an edit without them would remove the keyboard."""
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
        from telegram.constants import ParseMode

        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                            for b in row] for row in message.buttons])
        async with _telegram_errors():
            await self.bot.edit_message_text(
                message.plain if plain else message.html, chat_id=chat_id,
                message_id=message_id, parse_mode=None if plain else ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=self.disable_previews))


@asynccontextmanager
async def _telegram_errors() -> AsyncIterator[None]:
    """Map python-telegram-bot's exceptions to DeliveryError subclasses."""
    from telegram.error import (
        BadRequest,
        ChatMigrated,
        Forbidden,
        NetworkError,
        RetryAfter,
        TelegramError,
        TimedOut,
    )

    try:
        yield
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater(seconds, str(exc)) from exc
    except Forbidden as exc:
        raise ChatGone(str(exc)) from exc
    except ChatMigrated as exc:
        raise ChatGone(f"group became supergroup {exc.new_chat_id}") from exc
    except BadRequest as exc:  # before NetworkError: BadRequest is a subclass of it
        text = str(exc).lower()
        if any(marker in text for marker in _GONE_400):
            raise ChatGone(str(exc)) from exc
        raise BadMessage(str(exc), parse_error="parse entities" in text) from exc
    except (TimedOut, NetworkError) as exc:
        raise Transient(str(exc) or type(exc).__name__) from exc
    except TelegramError as exc:  # InvalidToken, Conflict...: not this message's fault
        raise Transient(f"{type(exc).__name__}: {exc}") from exc


class ConsoleNotifier:
    """Prints alerts (plain text) to a stream: the bot without a Telegram token."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    async def send(self, chat_id: int, message: RenderedMessage, *, plain: bool = False,
                   thread_id: int | None = None) -> int | None:
        """Write the plain text with a separator line (a chart as its size)."""
        self.count += 1
        chart = f"[chart: {len(message.photo):,} bytes PNG]\n" if message.photo else ""
        print(f"--- alert for chat {chat_id}\n{chart}{message.plain}", file=self.stream,
              flush=True)
        return self.count

    async def edit(self, chat_id: int, message_id: int, message: RenderedMessage, *,
                   plain: bool = False) -> None:
        """Print the updated message (a console has no message to change in place)."""
        print(f"--- update of alert {message_id} for chat {chat_id}\n{message.plain}",
              file=self.stream, flush=True)


# ---------------------------------------------------------------------------- what we drain

class JobLike(Protocol):
    id: int
    alert_id: int
    chat_id: int
    chat_kind: str
    attempts: int


class Outbox(Protocol):
    """The store's worker side (bot.store.outbox.Outbox implements it)."""

    def due(self, now: datetime, limit: int = 100) -> list[Any]: ...
    def next_due(self) -> datetime | None: ...
    def mark_sent(self, outbox_id: int, message_id: int | None, now: datetime) -> None: ...
    def mark_retry(self, outbox_id: int, next_try: datetime, error: str) -> None: ...
    def mark_failed(self, outbox_id: int, error: str, now: datetime) -> None: ...
    def postpone_chat(self, chat_id: int, next_try: datetime) -> None: ...


class Chats(Protocol):
    """Where a chat that is gone is deactivated (bot.store.subscribers.Subscribers)."""

    def deactivate(self, chat_id: int, reason: str, now: datetime) -> bool: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def now(self) -> datetime: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# ---------------------------------------------------------------------------- limits

@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    """Telegram's documented limits, with a margin on the global one.

    28.5/s rather than 30/s: the server counts arrivals, and network and scheduling jitter
    bunch evenly spaced sends. Measured with bench/fanout.py against the fake (which answers
    429 past 30 in any second): 30/s provoked 24 429s per 1,000 messages; 29/s none when the
    machine was quiet but one under load; 28.5/s none either way, at 28.1 msg/s delivered.
    """

    global_per_second: float = 28.5
    chat_interval: float = 1.0  # 1 message per second in one chat
    group_interval: float = 3.0  # 20 per minute in a group
    jitter_tolerance: float = 0.002  # see Spacing
    max_in_flight: int = 8  # ≈ 30/s × 250 ms round trip; also the crash-duplicate window
    max_attempts: int = 10
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    batch: int = 200
    idle_poll: float = 1.0  # how often an idle worker looks for due rows


class Spacing:
    """A token bucket of capacity one: events about `interval` apart.

    `tolerance`: a slot taken up to that many seconds late does not push the next slots
    back (the event loop wakes about a millisecond late; uncorrected, that alone costs 3% of
    the rate). Gaps never shrink below interval - tolerance. Capacity one on purpose:
    Telegram counts arrivals in sliding windows, and bunched sends arrive more bunched still;
    a variant that caught up a whole interval provoked 429s at the fake.
    """

    def __init__(self, interval: float, *, tolerance: float = 0.0) -> None:
        self.interval = interval
        self.tolerance = min(tolerance, interval)
        self.next_at = float("-inf")

    def ready_at(self) -> float:
        return self.next_at

    def take(self, now: float) -> None:
        late = now - self.next_at
        # Only while busy (late by less than a slot): after an idle spell there is nothing
        # to catch up.
        catch_up = min(late, self.tolerance) if 0.0 < late < self.interval else 0.0
        self.next_at = max(now, self.next_at) - catch_up + self.interval


def backoff(attempts: int, limits: DeliveryLimits) -> float:
    """Seconds before retry number `attempts + 1` of a transient failure."""
    return min(limits.backoff_cap, limits.backoff_base * 2 ** min(attempts, 30))


@dataclass
class WorkerStats:
    """Counters for /stats and the benchmark."""

    sent: int = 0
    retried: int = 0
    flood_waits: int = 0
    gone: int = 0
    plain_fallbacks: int = 0
    failed: int = 0
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "429": self.flood_waits,
                "chats deactivated": self.gone, "plain fallbacks": self.plain_fallbacks,
                "failed": self.failed, "in flight": self.in_flight}


# ---------------------------------------------------------------------------- the worker

class DeliveryWorker:
    """Drains the outbox: one send per due row, within the limits, until stopped."""

    def __init__(self, outbox: Outbox, chats: Chats, notifier: Notifier,
                 render: Callable[[Any], RenderedMessage], *,
                 limits: DeliveryLimits = DeliveryLimits(), clock: Clock | None = None,
                 on_topic_gone: Callable[[Any, int], Awaitable[None]] | None = None) -> None:
        self.outbox = outbox
        self.on_topic_gone = on_topic_gone  # (job, thread): a forum topic was deleted
        self.chats = chats
        self.notifier = notifier
        self.render = render
        self.limits = limits
        self.clock: Clock = clock or SystemClock()
        self.stats = WorkerStats()
        self._global = Spacing(1.0 / limits.global_per_second, tolerance=limits.jitter_tolerance)
        self._chats: dict[int, Spacing] = {}
        self._paused_until = float("-inf")
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        # Rows finished since the last query: that query may still list them as pending.
        self._finished: set[int] = set()
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._wake = asyncio.Event()
        self._stopping = False

    # -- control
    def kick(self) -> None:
        """New rows were queued: look now instead of at the next idle poll."""
        self._wake.set()

    def stop(self) -> None:
        """Start no new send; run() returns once the sends in flight are finished."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stop(); then wait for the messages in flight and return."""
        try:
            while not self._stopping:
                dispatched = await self.run_once()
                if not dispatched and not self._stopping:
                    await self._idle()
        finally:
            await self.drain()

    async def drain(self) -> None:
        """Wait for every send in flight to finish (and be marked)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

    # -- one pass
    async def run_once(self) -> int:
        """Dispatch every due row whose chat may receive now; return how many were started."""
        batch = self.limits.batch
        while True:
            self._finished.clear()  # before the query: rows finished later are caught below
            jobs = await asyncio.to_thread(self.outbox.due, self.clock.now(), batch)
            dispatched = await self._dispatch(jobs)
            # Rows held back by their chat's limit must not hide other chats' rows: look deeper.
            if dispatched or len(jobs) < batch or batch >= 20000 or self._stopping:
                return dispatched
            batch *= 4

    async def _dispatch(self, jobs: list[Any]) -> int:
        dispatched = 0
        for job in jobs:
            if self._stopping:
                break
            if job.id in self._in_flight or job.id in self._finished:
                continue
            if self._chat_ready_at(job) > self.clock.monotonic():
                continue
            await self._wait_global()
            if self._stopping:
                break
            if job.id in self._finished or self._chat_ready_at(job) > self.clock.monotonic():
                continue  # finished meanwhile, or a 429 pause moved this chat while we waited
            await self._slots.acquire()
            self._take_slots(job)
            self._in_flight[job.id] = asyncio.create_task(self._deliver(job))
            await asyncio.sleep(0)  # let the send start in its slot, not at the next one
            dispatched += 1
        return dispatched

    async def _idle(self) -> None:
        """Sleep until a chat frees up, a row is due, or kick(); at most `idle_poll`."""
        delay = self.limits.idle_poll
        waits = [s.ready_at() - self.clock.monotonic() for s in self._chats.values()]
        waits = [w for w in waits if w > 0]
        if waits:
            delay = min(delay, max(0.01, min(waits)))
        self._wake.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, waker):
                fut.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    def _chat_spacing(self, job: JobLike) -> Spacing:
        spacing = self._chats.get(job.chat_id)
        if spacing is None:
            # Channels get the group pace: Telegram documents 20/min for groups and throttles
            # channel posts alike.
            interval = (self.limits.group_interval
                        if job.chat_kind in ("group", "supergroup", "channel")
                        else self.limits.chat_interval)
            spacing = self._chats[job.chat_id] = Spacing(interval)
        return spacing

    def _chat_ready_at(self, job: JobLike) -> float:
        return self._chat_spacing(job).ready_at()

    async def _wait_global(self) -> None:
        while not self._stopping:
            wait = max(self._global.ready_at(), self._paused_until) - self.clock.monotonic()
            if wait <= 0:
                return
            await self.clock.sleep(min(wait, 0.5))  # short naps: stop() must not wait out a 429

    def _take_slots(self, job: JobLike) -> None:
        now = self.clock.monotonic()
        self._global.take(now)
        self._chat_spacing(job).take(now)

    # -- one delivery
    async def _deliver(self, job: Any) -> None:
        self.stats.in_flight += 1
        try:
            await self._attempt(job)
        except Exception:  # a bug here must not kill the worker; the row stays pending
            log.exception("outbox %s: unexpected error delivering to chat %s", job.id, job.chat_id)
            await asyncio.to_thread(self.outbox.mark_retry, job.id,
                                    self.clock.now() + timedelta(seconds=60), "internal error")
        finally:
            self.stats.in_flight -= 1
            self._finished.add(job.id)
            self._in_flight.pop(job.id, None)
            self._slots.release()
            self._wake.set()

    async def _transmit(self, job: Any, message: RenderedMessage, *, plain: bool) -> int | None:
        """Send the message, or for an edit row change the sent one; its message id."""
        if getattr(job, "kind", "send") != "edit":
            return await self._send(job, message, plain=plain)
        try:
            await self.notifier.edit(job.chat_id, job.edit_message_id, message, plain=plain)
        except BadMessage as exc:
            if "not modified" not in str(exc).lower():
                raise
        return job.edit_message_id

    async def _send(self, job: Any, message: RenderedMessage, *, plain: bool) -> int | None:
        thread = getattr(job, "thread_id", None)
        if thread is None:
            return await self.notifier.send(job.chat_id, message, plain=plain)
        try:
            return await self.notifier.send(job.chat_id, message, plain=plain, thread_id=thread)
        except BadMessage as exc:
            if not any(marker in str(exc).lower() for marker in _TOPIC_GONE_400):
                raise
        # The topic was deleted: the alert goes to General now, nothing is lost.
        log.info("chat %s: topic %s is gone; sending to General", job.chat_id, thread)
        message_id = await self.notifier.send(job.chat_id, message, plain=plain)
        if self.on_topic_gone is not None:
            try:
                await self.on_topic_gone(job, thread)
            except Exception:  # sent already: a failure here must not send it twice
                log.exception("chat %s: could not forget topic %s", job.chat_id, thread)
        return message_id

    async def _attempt(self, job: Any) -> None:
        if getattr(job, "kind", "send") == "edit" and job.edit_message_id is None:
            # The alert itself was never delivered (failed, or its chat left): nothing to edit.
            await asyncio.to_thread(self.outbox.mark_failed, job.id, "no sent message to edit",
                                    self.clock.now())
            return
        message = self.render(job)
        try:
            try:
                message_id = await self._transmit(job, message, plain=False)
            except BadMessage as exc:
                if not exc.parse_error:
                    raise
                log.warning("outbox %s: HTML refused (%s); sending plain text", job.id, exc)
                self.stats.plain_fallbacks += 1
                message_id = await self._transmit(job, message, plain=True)
        except RetryLater as exc:
            await self._on_flood(job, exc)
            return
        except ChatGone as exc:
            self.stats.gone += 1
            log.info("chat %s is gone (%s): deactivated", job.chat_id, exc)
            await asyncio.to_thread(self.chats.deactivate, job.chat_id, str(exc)[:200],
                                    self.clock.now())
            return
        except BadMessage as exc:
            self.stats.failed += 1
            log.warning("outbox %s: chat %s refused the message: %s", job.id, job.chat_id, exc)
            await asyncio.to_thread(self.outbox.mark_failed, job.id, str(exc)[:500],
                                    self.clock.now())
            return
        except Transient as exc:
            await self._on_transient(job, exc)
            return
        # Mark at once: from here on a crash can no longer make this message repeat.
        await asyncio.to_thread(self.outbox.mark_sent, job.id, message_id, self.clock.now())
        self.stats.sent += 1

    async def _on_flood(self, job: Any, exc: RetryLater) -> None:
        # Telegram says nothing may be sent for retry_after: pause everything, and keep
        # this chat's rows out of the next queries for that long (attempts unchanged).
        self.stats.flood_waits += 1
        wait = max(exc.retry_after, 0.5)
        log.warning("flood control on chat %s: waiting %.1fs", job.chat_id, wait)
        self._paused_until = max(self._paused_until, self.clock.monotonic() + wait)
        spacing = self._chat_spacing(job)
        spacing.next_at = max(spacing.next_at, self.clock.monotonic() + wait)
        await asyncio.to_thread(self.outbox.postpone_chat, job.chat_id,
                                self.clock.now() + timedelta(seconds=wait))

    async def _on_transient(self, job: Any, exc: Transient) -> None:
        if job.attempts + 1 >= self.limits.max_attempts:
            self.stats.failed += 1
            log.warning("outbox %s: giving up after %d attempts: %s", job.id, job.attempts + 1, exc)
            await asyncio.to_thread(self.outbox.mark_failed, job.id, str(exc)[:500],
                                    self.clock.now())
            return
        self.stats.retried += 1
        delay = backoff(job.attempts, self.limits)
        log.info("outbox %s: %s; retry in %.0fs", job.id, exc, delay)
        await asyncio.to_thread(self.outbox.mark_retry, job.id,
                                self.clock.now() + timedelta(seconds=delay), str(exc)[:500])
