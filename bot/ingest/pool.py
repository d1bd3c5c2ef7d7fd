"""Our keep-alive pool: HTTP/1.1 over h11, one small pool per origin, httpx's transport API.

The fetcher's transport (see PoolPerOrigin for why it is ours and not httpcore's). Sockets
come from `bot.ingest.netbackend`; httpcore's and h11's exceptions leave as httpx's.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable

import h11
import httpcore
import httpx

from bot.ingest.netbackend import AsyncioBackend

Origin = tuple[bytes, bytes, int]

# httpcore's exceptions (raised by bot.ingest.netbackend) and h11's as httpx's, as httpx's own
# transport maps them (most specific first).
_HTTPCORE_ERRORS: dict[type[Exception], type[httpx.HTTPError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    h11.RemoteProtocolError: httpx.RemoteProtocolError,
    h11.LocalProtocolError: httpx.LocalProtocolError,
}

# As httpcore: the most one read asks for, and the most a status line plus headers may take.
_READ_BYTES = 64 * 1024
_MAX_HEAD_BYTES = 100 * 1024
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def _as_httpx_error(exc: BaseException) -> httpx.HTTPError | None:
    """The httpx exception for an httpcore or h11 one; None for anything else."""
    for cls in type(exc).__mro__:
        mapped = _HTTPCORE_ERRORS.get(cls)
        if mapped is not None:
            return mapped(str(exc))
    return None


class _Connection:
    """One HTTP/1.1 connection: h11's state machine over a `bot.ingest.netbackend` stream."""

    __slots__ = ("h11", "idle_since", "stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self.idle_since = 0.0

    def reusable(self, now: float, expiry: float) -> bool:
        """Idle, not expired, and nothing arrived while idle (that would mean a close)."""
        return (
            now - self.idle_since <= expiry
            and self.h11.our_state is h11.IDLE
            and not self.stream.get_extra_info("is_readable")
        )

    async def send(self, request: httpx.Request, timeouts: dict[str, float | None]) -> h11.Response:
        """Send `request`; return the response's head (its body is read with `next_event`)."""
        url = request.url
        state = self.h11
        data = state.send(
            h11.Request(method=request.method, target=url.raw_path, headers=request.headers.raw)
        )
        headers = request.headers
        if "content-length" in headers or "transfer-encoding" in headers:
            parts = [data or b""]
            assert isinstance(request.stream, AsyncIterable)
            async for chunk in request.stream:
                parts.append(state.send(h11.Data(data=chunk)) or b"")
            data = b"".join(parts)
        data = (data or b"") + (state.send(h11.EndOfMessage()) or b"")
        try:
            await self.stream.write(data, timeout=timeouts.get("write"))
        except httpcore.WriteError:
            pass  # a server may answer (an error, say) and close before reading it all
        read_timeout = timeouts.get("read")
        while True:
            event = await self.next_event(read_timeout)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx precede the answer
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before a response")

    async def next_event(self, timeout: float | None) -> h11.Event | type[h11.PAUSED]:
        """The next h11 event of the response, reading from the network as needed."""
        state = self.h11
        while True:
            event = state.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.read(_READ_BYTES, timeout=timeout)
            if not data and state.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            state.receive_data(data)

    def finished(self) -> bool:
        """The exchange ended cleanly and the connection may carry another one."""
        state = self.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            return True
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


class _Host:
    """One origin's connections: the idle ones, how many are open, who waits for one."""

    __slots__ = ("idle", "open", "waiters")

    def __init__(self) -> None:
        self.idle: list[_Connection] = []  # most recently used last
        self.open = 0  # idle and busy
        self.waiters: deque[asyncio.Future[None]] = deque()

    @property
    def busy(self) -> bool:
        return self.open > len(self.idle) or bool(self.waiters)


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; gives the connection back when closed."""

    def __init__(
        self, pool: PoolPerOrigin, origin: Origin, host: _Host, connection: _Connection,
        timeout: float | None, first: bytes | None, at_end: bool,
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._host = host
        self._connection: _Connection | None = connection
        self._timeout = timeout
        self._first = first
        self.at_end = at_end  # the whole body has been received (a 304 is at its end at once)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            first, self._first = self._first, None
            yield first
        connection = self._connection
        if self.at_end or connection is None:
            return
        try:
            while True:
                event = await connection.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                    self.at_end = True
                    return
        except Exception as exc:
            mapped = _as_httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            reuse = self.at_end and connection.finished()
            await self._pool._release(self._origin, self._host, connection, reuse)


class PoolPerOrigin(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections, at most `per_host` per origin; httpx's transport API.

    Our own small pool of h11 connections over `bot.ingest.netbackend`, not httpcore's pool: that
    does O(connections²) work per request (1.0.9: ~7 ms of CPU per request with 64
    connections) and takes anyio locks and trace hooks at every step, which made up about
    half of the CPU a 304 cost. Here a request takes the most recently used idle connection
    of its origin (closing expired ones and ones the server closed), else opens one while
    fewer than `per_host` are open, else waits for one. A response that ends within its
    head (a 304) gives its connection back at once. Idle origins beyond `max_idle_pools`
    are closed, least recently used first, so thousands of hosts never mean thousands of
    open sockets. HTTP/1.1 only; no proxies.
    """

    def __init__(
        self,
        per_host: int,
        max_idle_pools: int,
        verify: ssl.SSLContext | Callable[[], ssl.SSLContext],
        *,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._per_host = per_host
        self._max_idle_pools = max_idle_pools
        self._verify = verify
        self._backend = AsyncioBackend() if network_backend is None else network_backend
        self._keepalive_expiry = keepalive_expiry
        self._hosts: dict[Origin, _Host] = {}
        self._idle: dict[Origin, None] = {}  # insertion-ordered: oldest idle first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` on a connection of its origin; the body stream gives it back."""
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        host = self._hosts.get(origin)
        if host is None:
            host = self._hosts[origin] = _Host()
        connection = None
        try:
            connection = await self._acquire(origin, host, timeouts)
            head = await connection.send(request, timeouts)
            # Bodiless answers (304, 204, HEAD) end with their head: see so now, without I/O.
            first: bytes | None = None
            at_end = False
            event = connection.h11.next_event()
            if isinstance(event, h11.EndOfMessage):
                at_end = True
            elif isinstance(event, h11.Data):
                first = bytes(event.data)
        except BaseException as exc:
            if connection is not None:
                await self._release(origin, host, connection, False)
            mapped = _as_httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        stream = _Body(self, origin, host, connection, timeouts.get("read"), first, at_end)
        return httpx.Response(
            status_code=head.status_code,
            headers=head.headers.raw_items(),
            stream=stream,
            extensions={"http_version": b"HTTP/" + head.http_version,
                        "reason_phrase": head.reason},
        )

    async def aclose(self) -> None:
        """Close every idle connection (busy ones close when their response is closed)."""
        hosts, self._hosts = list(self._hosts.values()), {}
        self._idle.clear()
        for host in hosts:
            await self._close_idle(host)

    async def _acquire(
        self, origin: Origin, host: _Host, timeouts: dict[str, float | None]
    ) -> _Connection:
        self._idle.pop(origin, None)
        loop = asyncio.get_running_loop()
        while True:
            while host.idle:
                connection = host.idle.pop()
                if connection.reusable(loop.time(), self._keepalive_expiry):
                    return connection
                host.open -= 1
                await connection.aclose()
            if host.open < self._per_host:
                host.open += 1
                try:
                    return await self._connect(origin, timeouts.get("connect"))
                except BaseException:
                    host.open -= 1
                    self._wake(host)
                    raise
            waiter = loop.create_future()
            host.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in host.waiters:
                    host.waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._wake(host)  # woken, then cancelled: pass the turn on
                raise

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        stream = await self._backend.connect_tcp(host, port, timeout=timeout)
        if scheme == b"https":
            try:
                stream = await stream.start_tls(self._tls(), server_hostname=host, timeout=timeout)
            except BaseException:
                await stream.aclose()
                raise
        return _Connection(stream)

    def _tls(self) -> ssl.SSLContext:
        # Loading the CA bundle costs ~0.2 s: only when a feed is https.
        return self._verify() if callable(self._verify) else self._verify

    async def _release(
        self, origin: Origin, host: _Host, connection: _Connection, reuse: bool
    ) -> None:
        if self._hosts.get(origin) is not host:  # the pool was closed meanwhile
            await connection.aclose()
            return
        if reuse:
            connection.idle_since = asyncio.get_running_loop().time()
            host.idle.append(connection)
        else:
            host.open -= 1
            await connection.aclose()
        self._wake(host)
        if host.busy:
            return
        self._idle[origin] = None
        while len(self._idle) > self._max_idle_pools:
            oldest = next(iter(self._idle))
            del self._idle[oldest]
            await self._close_idle(self._hosts.pop(oldest))

    @staticmethod
    def _wake(host: _Host) -> None:
        while host.waiters:
            waiter = host.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    @staticmethod
    async def _close_idle(host: _Host) -> None:
        idle, host.idle = host.idle, []
        host.open -= len(idle)
        for connection in idle:
            await connection.aclose()
