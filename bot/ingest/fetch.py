"""Fetch feeds over HTTP without letting any feed hurt the process.

One `Fetcher` owns one pooled, keep-alive httpx transport. `Fetcher.fetch` never raises for
anything a feed or its server does: every failure becomes a `FetchResult` with status "error"
and a one-line reason. The defences, and why each is needed:

    conditional GET          If-None-Match / If-Modified-Since; a 304 costs no parsing
    body hash                a 200 whose sha256 equals the last one is "unchanged"
    size cap                 counted on the wire and again after decompression, so a gzip bomb
                             is cut at `max_bytes` without ever holding more
    own decompression        gzip / deflate (zlib or raw) inflated incrementally with a bound;
                             any other Content-Encoding is an error
    overall deadline         httpx timeouts are per operation: a server dripping one byte a
                             second never trips them, so `feed.timeout` bounds the whole fetch
    own redirects            bounded, http/https only, loops named as loops
    concurrency bounds       a global bound and one per host (scheme, host, port of the feed)
    one pool per origin      our own keep-alive pool of h11 connections (pool.py):
                             httpcore's pool costs O(connections²) and anyio locks per request
    asyncio network backend  connections talk to sockets through `bot.ingest.netbackend`, not anyio:
                             about a quarter less CPU per request

Errors are raised inside as `FetchError` / `FeedTooLarge` (httpx's exceptions are wrapped once,
where they happen) and turned into results at the `fetch` boundary.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from bot import USER_AGENT
from bot.errors import FeedTooLarge, FetchError
from bot.ingest.pool import PoolPerOrigin
from bot.models import Feed, FetchResult, FetchStatus, Validators

log = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = ("http", "https")
# We inflate bodies ourselves (with a bound), so we only advertise what we can bound.
_ACCEPT_ENCODING = "gzip, deflate"
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_MAX_ERROR_CHARS = 300
# A redirect's or an error page's body is read (to keep the connection) only when this small.
_DRAIN_BYTES = 64 * 1024
_DRAIN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How far the fetcher trusts servers: sizes, redirects, timeouts, concurrency."""

    max_bytes: int = 10 * 1024 * 1024  # on the wire AND after decompression
    max_redirects: int = 5
    connect_timeout: float = 10.0
    # Sockets open at once over all hosts (well under the usual 1,024 descriptors). Politeness
    # is `max_per_host`'s job; a global bound below (hosts × per host) only adds waves: 1,000
    # feeds on 20 hosts took 8 waves of their latency at 128 instead of 7.
    max_concurrency: int = 256
    max_per_host: int = 8
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_concurrency", "max_per_host"):
            if getattr(self, name) < 1:
                raise ValueError(f"FetchLimits.{name} must be at least 1")
        if self.max_redirects < 0:
            raise ValueError("FetchLimits.max_redirects must not be negative")
        if self.connect_timeout <= 0:
            raise ValueError("FetchLimits.connect_timeout must be positive")


def format_size(n: int) -> str:
    """A byte count as people write it: '10 MiB', '64 KiB', '1000 bytes'."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def _seconds(t: float) -> str:
    return f"{t:g}s"


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s; one context serves every Fetcher of the process.
    return httpx.create_ssl_context()


class _BoundedDecoder:
    """Inflates a body chunk by chunk and refuses to produce more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = encoding
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []
        self._inflater: zlib._Decompress | None = None
        self._done = False  # the compressed stream ended; trailing bytes are ignored

    def write(self, data: bytes) -> None:
        """Take the next raw chunk; raises FeedTooLarge past the limit, FetchError if corrupt."""
        if self._encoding == "identity":
            self._append(data)
            return
        if self._done or not data:
            return
        if self._inflater is None:
            self._inflater = self._new_inflater(data)
        try:
            self._inflate(data)
        except zlib.error as exc:
            raise FetchError(f"corrupt {self._encoding} body: {exc}") from exc

    def finish(self) -> bytes:
        """The whole decoded body; raises FetchError if a compressed stream was cut short."""
        if self._inflater is not None and not self._done and not self._inflater.eof:
            raise FetchError(f"{self._encoding} body is truncated")
        return b"".join(self._parts)

    def _new_inflater(self, head: bytes) -> zlib._Decompress:
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
        looks_zlib = len(head) >= 2 and head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if looks_zlib else -zlib.MAX_WBITS)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        while data:
            # Ask for one byte more than the room left: getting it proves the cap is exceeded.
            room = self._limit - self._size + 1
            out = self._inflater.decompress(data, room)
            self._append(out)
            if self._inflater.eof:
                data = self._inflater.unused_data
                if self._encoding == "gzip" and data.startswith(b"\x1f\x8b"):
                    self._inflater = self._new_inflater(data)  # RFC 1952 allows many members
                    continue
                self._done = True
                return
            tail = self._inflater.unconsumed_tail
            if not out and tail == data:
                return  # no progress possible (cannot happen with room >= 1; be safe)
            data = tail

    def _append(self, out: bytes) -> None:
        self._size += len(out)
        if self._size > self._limit:
            qualifier = "" if self._encoding == "identity" else " (decompressed)"
            raise FeedTooLarge(f"body exceeds {format_size(self._limit)}{qualifier}")
        if out:
            self._parts.append(out)


def _content_encoding(headers: httpx.Headers) -> str:
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip"):
        return "gzip"
    if codings == ["deflate"]:
        return "deflate"
    raise FetchError(f"unsupported Content-Encoding: {', '.join(codings)}")


def _reason(response: httpx.Response) -> str:
    standard = httpx.codes.get_reason_phrase(response.status_code)
    return standard or _one_line(response.reason_phrase)[:60]


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe_http_error(exc: httpx.HTTPError, url: httpx.URL, timeout: httpx.Timeout) -> str:
    """Say in one line, for an operator, what went wrong at the transport."""
    chain = _cause_chain(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {_seconds(timeout.connect or 0)}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {_seconds(timeout.read or 0)}"
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "connection refused"
        if any(isinstance(e, socket.gaierror) for e in chain):
            return f"cannot resolve host {url.host!r}"
        return f"cannot connect: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "complete message body" in text:
            return f"connection closed mid-body: {text}"
        if "without sending a response" in text:
            return "server closed the connection without a response"
        return f"HTTP protocol error: {text}"
    if isinstance(exc, httpx.ReadError):
        return f"connection broken while reading: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL scheme {url.scheme!r} (use http or https)"
    return f"{type(exc).__name__}: {exc}"


def _check_url(raw: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"invalid URL: {exc}") from exc
    if url.scheme not in _SCHEMES:
        raise FetchError(f"unsupported URL scheme {url.scheme!r} (use http or https)")
    if not url.host:
        raise FetchError("invalid URL: no host")
    return url


def _host_key(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


@dataclass(slots=True)
class _Attempt:
    """What we know so far about one fetch, for the result whatever happens."""

    feed: Feed
    validators: Validators
    timeout: httpx.Timeout
    admit: Callable[[], Awaitable[None]] | None = None
    started: float = field(default_factory=time.perf_counter)
    final_url: str | None = None
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    deadline: asyncio.Timeout | None = None
    waited: float = 0.0  # seconds spent waiting for admission: not the feed's fault

    async def admitted(self) -> None:
        """Wait until the caller admits one more body, the feed's deadline paused meanwhile."""
        if self.admit is None:
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        when = self.deadline.when() if self.deadline is not None else None
        if self.deadline is not None:
            self.deadline.reschedule(None)
        try:
            await self.admit()
        finally:
            self.waited += loop.time() - began
            if self.deadline is not None and when is not None:
                self.deadline.reschedule(when + loop.time() - began)

    def result(
        self,
        status: FetchStatus,
        *,
        body: bytes | None = None,
        validators: Validators | None = None,
        error: str | None = None,
    ) -> FetchResult:
        return FetchResult(
            status=status,
            url=self.feed.url,
            final_url=self.final_url,
            http_status=self.http_status,
            body=body,
            headers=self.headers,
            validators=self.validators if validators is None else validators,
            error=None if error is None else _one_line(error),
            elapsed=time.perf_counter() - self.started - self.waited,
        )


class Fetcher:
    """Owns one pooled keep-alive httpx transport; gzip/deflate (brotli is not advertised).

    No httpx.AsyncClient on top: we follow redirects ourselves and want no cookie jar, auth or
    event hooks, and the client's machinery cost ~12% of the CPU of a warm cycle. Environment
    proxies (HTTP_PROXY …) are not used: pass a `transport` to route differently.
    """

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits
        self._global = asyncio.Semaphore(limits.max_concurrency)
        self._per_host: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}
        if transport is None:
            idle_pools = max(4, limits.max_concurrency // limits.max_per_host)
            transport = PoolPerOrigin(limits.max_per_host, idle_pools, _tls_context)
        # Requests go straight to the transport: we follow redirects, keep no cookies and need
        # no auth, so httpx.AsyncClient's machinery would only cost CPU (~25% of a 304).
        self._transport = transport
        self._headers = {
            "User-Agent": limits.user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": _ACCEPT_ENCODING,
        }

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._transport.aclose()

    async def fetch_many(self, jobs: Sequence[tuple[Feed, Validators]]) -> list[FetchResult]:
        """Fetch every job concurrently within the bounds; results in the order of `jobs`."""
        return list(await asyncio.gather(*(self.fetch(feed, v) for feed, v in jobs)))

    async def fetch(
        self, feed: Feed, validators: Validators, *,
        admit: Callable[[], Awaitable[None]] | None = None,
    ) -> FetchResult:
        """GET one feed (conditionally); never raises for anything the feed or server does.

        `admit`, when given, is awaited once a 2xx answer's body is about to be read: the
        caller's backpressure. Until it returns the body stays in the socket (and the
        feed's deadline is paused), so a cycle that fetches faster than it can parse does
        not hold every body in memory at once.
        """
        # httpx's timeouts are per operation; the asyncio deadline below bounds the whole.
        connect = min(self.limits.connect_timeout, feed.timeout)
        attempt = _Attempt(feed, validators, httpx.Timeout(feed.timeout, connect=connect),
                           admit)
        try:
            url = _check_url(feed.url)
            host = self._host_slot(url)
            # Host slot first: a feed waiting for a busy host must not hold a global slot.
            async with host, self._global:
                attempt.started = time.perf_counter()  # queueing for a slot is not the feed's fault
                async with asyncio.timeout(feed.timeout) as attempt.deadline:
                    return await self._get(url, attempt)
        except TimeoutError:
            return attempt.result("error", error=f"timed out after {_seconds(feed.timeout)}")
        except FetchError as exc:
            return attempt.result("error", error=str(exc))
        except Exception as exc:  # a bug of ours must not take the other feeds down
            log.exception("unexpected error fetching feed %r", feed.name)
            return attempt.result("error", error=f"unexpected {type(exc).__name__}: {exc}")

    def _host_slot(self, url: httpx.URL) -> asyncio.Semaphore:
        key = _host_key(url)
        host = self._per_host.get(key)
        if host is None:
            host = self._per_host[key] = asyncio.Semaphore(self.limits.max_per_host)
        return host

    async def _get(self, url: httpx.URL, attempt: _Attempt) -> FetchResult:
        headers = {**self._headers, **_conditional_headers(attempt.validators)}
        seen = {str(url)}
        for _ in range(self.limits.max_redirects + 1):
            request = httpx.Request(
                "GET", url, headers=headers, extensions={"timeout": attempt.timeout.as_dict()}
            )
            response = await self._send(request, attempt)
            try:
                attempt.final_url = str(response.url)
                attempt.http_status = response.status_code
                attempt.headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code not in _REDIRECT_STATUSES:
                    return await self._conclude(response, attempt)
                url = _redirect_target(response, seen)
            finally:
                await _release(response)
        raise FetchError(f"too many redirects ({self.limits.max_redirects})")

    async def _send(self, request: httpx.Request, attempt: _Attempt) -> httpx.Response:
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.HTTPError as exc:
            raise FetchError(_describe_http_error(exc, request.url, attempt.timeout)) from exc
        response.request = request
        return response

    async def _conclude(self, response: httpx.Response, attempt: _Attempt) -> FetchResult:
        status = response.status_code
        if status == 304:
            return attempt.result("not_modified")
        if not 200 <= status < 300:
            return attempt.result("error", error=f"HTTP {status} {_reason(response)}".rstrip())
        await attempt.admitted()
        body = await self._read_body(response, attempt)
        digest = hashlib.sha256(body).hexdigest()
        validators = Validators(
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            body_hash=digest,
        )
        if digest == attempt.validators.body_hash:
            return attempt.result("unchanged", validators=validators)
        return attempt.result("ok", body=body, validators=validators)

    async def _read_body(self, response: httpx.Response, attempt: _Attempt) -> bytes:
        limit = self.limits.max_bytes
        encoding = _content_encoding(response.headers)
        _check_declared_length(response.headers, limit)
        decoder = _BoundedDecoder(encoding, limit)
        on_wire = 0
        try:
            async for chunk in _raw_chunks(response):
                on_wire += len(chunk)
                if on_wire > limit:
                    where = "" if encoding == "identity" else " on the wire"
                    raise FeedTooLarge(f"body exceeds {format_size(limit)}{where}")
                decoder.write(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(_describe_http_error(exc, response.url, attempt.timeout)) from exc
        return decoder.finish()


async def _release(response: httpx.Response) -> None:
    """Close a response, first reading a small unread body so its connection can be reused."""
    # Closing a response whose end the transport has not seen closes the connection, even for
    # a bodiless 304: a warm cycle of 304s would then open one connection per feed. Our own
    # transport's 304s are at their end already (`at_end`): nothing to drain.
    if (
        not response.is_stream_consumed
        and not getattr(response.stream, "at_end", False)
        and _small_unread_body(response)
    ):
        try:
            async with asyncio.timeout(_DRAIN_SECONDS):
                async for _ in response.aiter_raw():
                    pass
        except (httpx.HTTPError, TimeoutError):
            pass  # then the connection is closed rather than reused: no harm done
    await response.aclose()


def _small_unread_body(response: httpx.Response) -> bool:
    if response.status_code in (204, 304):
        return True
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= _DRAIN_BYTES


def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    # Responses built in memory (httpx.MockTransport) arrive already read and decoded; their
    # stream still holds the raw bytes, which is what we inflate ourselves.
    if response.is_stream_consumed and isinstance(response.stream, httpx.AsyncByteStream):
        return aiter(response.stream)
    return response.aiter_raw()


def _conditional_headers(validators: Validators) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _check_declared_length(headers: httpx.Headers, limit: int) -> None:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FeedTooLarge(f"body exceeds {format_size(limit)} (Content-Length {declared})")


def _redirect_target(response: httpx.Response, seen: set[str]) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise FetchError(f"HTTP {response.status_code} redirect without a Location header")
    try:
        target = response.url.join(location.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(f"redirect to an invalid URL: {location!r}") from exc
    if target.scheme not in _SCHEMES:
        raise FetchError(f"redirect to unsupported scheme {target.scheme!r}")
    key = str(target.copy_with(fragment=None))
    if key in seen:
        raise FetchError(f"redirect loop: {response.url} redirects back to {key}")
    seen.add(key)
    return target
