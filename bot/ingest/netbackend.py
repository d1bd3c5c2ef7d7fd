"""An asyncio-native network backend for httpcore: the same contract, a fraction of the CPU.

httpcore's default backend goes through anyio: every read and write enters a `fail_after`
cancel scope, every request asks the socket for its peer (typed attributes → getpeername)
and `select`s it for readability, and the bytes pass through two stream wrappers. In a warm
cycle of 1,000 conditional GETs that was most of the ~1.7 ms of CPU each request cost.

Here a connection is an `asyncio.Protocol` that buffers what arrives. A read served from the
buffer costs no timer and no syscall; a read that must wait arms one `call_later` timer. The
per-request `get_extra_info("is_readable")` is answered from the protocol's state (data or EOF
arrived while idle), addresses and the TLS object are read once and cached.

Errors are httpcore's (ConnectError, ConnectTimeout, ReadError, ReadTimeout, WriteError,
WriteTimeout), with the OS error as the cause, exactly where the anyio backend raises them,
so httpx maps them as usual.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]

# Stop reading from the socket while this much arrived unread (a fast server must not be able
# to fill memory faster than the body-size checks above us consume it); resume below half.
_HIGH_WATER = 256 * 1024
# RFC 8305's "Connection Attempt Delay", as anyio uses, for hosts with several addresses.
_HAPPY_EYEBALLS_DELAY = 0.25


class _Protocol(asyncio.Protocol):
    """Buffers received bytes and wakes the one reader or writer that waits."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost: BaseException | None = None  # why the connection ended, once it has
        self.closed = False
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.paused_writing = False

    # asyncio.Protocol callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.paused_reading and self.transport:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 never half-closes usefully

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.eof = True
        self.lost = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        self._wake_writer()

    # helpers for the stream --------------------------------------------------------------

    def wait_readable(self) -> asyncio.Future[None]:
        assert self._reader is None, "one reader at a time"
        self._reader = asyncio.get_running_loop().create_future()
        return self._reader

    def wait_writable(self) -> asyncio.Future[None]:
        assert self._writer is None, "one writer at a time"
        self._writer = asyncio.get_running_loop().create_future()
        return self._writer

    def forget_waiters(self) -> None:
        self._reader = self._writer = None

    def take(self, max_bytes: int) -> bytes:
        if len(self.buffer) <= max_bytes:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self.paused_reading and len(self.buffer) <= _HIGH_WATER // 2 and not self.closed:
            self.paused_reading = False
            assert self.transport is not None
            self.transport.resume_reading()
        return data

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _wait(waiter: asyncio.Future[None], timeout: float | None) -> None:
    """Await `waiter`, raising TimeoutError after `timeout` seconds (None: no limit)."""
    if timeout is None:
        await waiter
        return
    timer = asyncio.get_running_loop().call_later(max(timeout, 0.0), _expire, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or Unix, or TLS) connection as httpcore wants it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._info = {
            "client_addr": transport.get_extra_info("sockname"),
            "server_addr": transport.get_extra_info("peername"),
            "socket": transport.get_extra_info("socket"),
            "ssl_object": transport.get_extra_info("ssl_object"),
        }

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes` received bytes; b"" once the peer has closed."""
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                await _wait(protocol.wait_readable(), timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout("timed out waiting for data") from exc
            finally:
                protocol.forget_waiters()
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.lost is not None:
            raise httpcore.ReadError(str(protocol.lost) or type(protocol.lost).__name__) from (
                protocol.lost
            )
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send `buffer`; waits (up to `timeout`) only while the kernel's buffer is full."""
        if not buffer:
            return
        protocol = self._protocol
        if protocol.closed or self._transport.is_closing():
            raise httpcore.WriteError("connection closed") from protocol.lost
        self._transport.write(buffer)
        while protocol.paused_writing and not protocol.closed:
            try:
                await _wait(protocol.wait_writable(), timeout)
            except TimeoutError as exc:
                raise httpcore.WriteTimeout("timed out sending data") from exc
            finally:
                protocol.forget_waiters()
        if protocol.closed and protocol.lost is not None:
            raise httpcore.WriteError(str(protocol.lost)) from protocol.lost

    async def aclose(self) -> None:
        """Close the connection (TLS: without waiting for the peer's close_notify)."""
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade this connection to TLS; the plain stream must not be used afterwards."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if tls is None:  # the connection was lost during the handshake
            self._transport.close()
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        assert isinstance(tls, asyncio.Transport)
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        """httpcore's extras; "is_readable" (asked per request) costs no syscall."""
        if info == "is_readable":
            # Idle and readable means the server closed (or sent junk): either way, expire.
            protocol = self._protocol
            return bool(protocol.buffer) or protocol.eof or protocol.closed
        return self._info.get(info)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend on plain asyncio transports (Linux, macOS, Windows)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection (TCP_NODELAY is asyncio's default)."""
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local,
                    happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:  # refused, unreachable, cannot resolve (socket.gaierror) …
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self._stream(transport, protocol, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a connection to a Unix domain socket."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self._stream(transport, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running loop."""
        await asyncio.sleep(seconds)

    @staticmethod
    def _stream(
        transport: asyncio.BaseTransport,
        protocol: asyncio.BaseProtocol,
        socket_options: Iterable[SocketOption] | None,
    ) -> AsyncioStream:
        assert isinstance(transport, asyncio.Transport) and isinstance(protocol, _Protocol)
        sock: socket.socket | None = transport.get_extra_info("socket")
        try:
            for option in socket_options or ():
                assert sock is not None
                sock.setsockopt(*option)  # type: ignore[call-overload]
        except OSError as exc:
            transport.close()
            raise httpcore.ConnectError(f"cannot set socket option: {exc}") from exc
        return AsyncioStream(transport, protocol)
