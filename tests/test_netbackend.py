"""bot.ingest.netbackend against real sockets on 127.0.0.1: reads, writes, timeouts, closes, TLS failures."""

from __future__ import annotations

import asyncio
import socket
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpcore
import pytest

from bot.ingest.fetch import _tls_context
from bot.ingest.netbackend import AsyncioBackend
from tests.feedserver import FeedServer, Route, closed_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def closing(handler: Handler) -> Handler:
    """`handler`, after which the server's end of the connection is closed whatever happened."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.transport.abort()

    return handle


@asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[int]:
    """A local asyncio server running `handler` per connection; yields its port."""
    server = await asyncio.start_server(closing(handler), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def read_exactly(stream: httpcore.AsyncNetworkStream, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = await stream.read(65536, timeout=2.0)
        assert chunk, "connection closed early"
        out += chunk
    return out


# --- plain TCP ------------------------------------------------------------------------------


def test_bytes_written_come_back_from_an_echo_server() -> None:
    async def main() -> None:
        async with tcp_server(echo) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            await stream.write(b"hello, ", timeout=2.0)
            await stream.write(b"world", timeout=2.0)
            assert await read_exactly(stream, 12) == b"hello, world"
            await stream.aclose()

    run(main())


def test_a_read_returns_at_most_max_bytes_and_keeps_the_rest() -> None:
    async def main() -> None:
        async with tcp_server(echo) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            await stream.write(b"abcdefghij", timeout=2.0)
            first = await stream.read(4, timeout=2.0)
            await asyncio.sleep(0.05)  # let the rest arrive
            rest = await read_exactly(stream, 10 - len(first))
            assert len(first) <= 4
            assert first + rest == b"abcdefghij"
            await stream.aclose()

    run(main())


def test_a_read_that_waits_too_long_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client goes

    async def main() -> None:
        async with tcp_server(silent) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(100, timeout=0.1)
            assert 0.09 <= loop.time() - started < 1.0
            await stream.aclose()

    run(main())


def test_a_clean_close_by_the_peer_reads_as_end_of_stream_after_the_data() -> None:
    async def say_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with tcp_server(say_and_close) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            assert await read_exactly(stream, 3) == b"bye"
            assert await stream.read(100, timeout=2.0) == b""
            assert await stream.read(100, timeout=2.0) == b""  # and stays so
            await stream.aclose()

    run(main())


def test_a_reset_connection_fails_reads_and_writes() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def main() -> None:
        async with tcp_server(reset) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            with pytest.raises(httpcore.ReadError) as caught:
                await stream.read(100, timeout=2.0)
            assert isinstance(caught.value.__cause__, ConnectionResetError)
            with pytest.raises(httpcore.WriteError):
                await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=2.0)
            await stream.aclose()

    run(main())


def test_writing_to_a_closed_connection_is_a_write_error() -> None:
    async def main() -> None:
        async with tcp_server(echo) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            await stream.aclose()
            with pytest.raises(httpcore.WriteError):
                await stream.write(b"late", timeout=1.0)

    run(main())


def test_a_peer_that_stops_reading_makes_a_big_write_time_out() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        async with tcp_server(deaf) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            with pytest.raises(httpcore.WriteTimeout):
                await stream.write(bytes(64 << 20), timeout=0.2)
            await stream.aclose()

    run(main())


def test_a_fast_sender_is_paused_while_nobody_reads_and_every_byte_arrives() -> None:
    size = 8 << 20

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes(size))
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with tcp_server(flood) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            await asyncio.sleep(0.3)  # the server sends as fast as it can; we read nothing
            buffered = len(stream._protocol.buffer)  # type: ignore[attr-defined]
            assert buffered < 2 << 20  # reading was paused: not the whole 8 MiB in memory
            total = 0
            while chunk := await stream.read(65536, timeout=2.0):
                total += len(chunk)
            assert total == size
            await stream.aclose()

    run(main())


def test_readability_reports_unsolicited_data_or_a_close_without_a_syscall() -> None:
    async def main() -> None:
        events: asyncio.Queue[str] = asyncio.Queue()

        async def controlled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while (what := await events.get()) != "close":
                writer.write(what.encode())
            writer.close()

        async with tcp_server(controlled) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            await asyncio.sleep(0.05)
            assert stream.get_extra_info("is_readable") is False
            events.put_nowait("x")
            await asyncio.sleep(0.05)
            assert stream.get_extra_info("is_readable") is True
            assert await stream.read(10, timeout=1.0) == b"x"
            assert stream.get_extra_info("is_readable") is False
            events.put_nowait("close")
            await asyncio.sleep(0.05)
            assert stream.get_extra_info("is_readable") is True
            await stream.aclose()

    run(main())


def test_extra_info_names_both_ends_and_the_socket() -> None:
    async def main() -> None:
        async with tcp_server(echo) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            client = stream.get_extra_info("client_addr")
            assert client[0] == "127.0.0.1" and client[1] > 0
            assert stream.get_extra_info("socket").fileno() >= 0
            assert stream.get_extra_info("ssl_object") is None
            assert stream.get_extra_info("something else") is None
            await stream.aclose()

    run(main())


def test_socket_options_are_applied() -> None:
    async def main() -> None:
        async with tcp_server(echo) as port:
            option = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            stream = await AsyncioBackend().connect_tcp(
                "127.0.0.1", port, timeout=2.0, socket_options=[option]
            )
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            await stream.aclose()

    run(main())


def test_a_refused_connection_is_a_connect_error_caused_by_the_refusal() -> None:
    sock, port = closed_port()

    async def main() -> None:
        with pytest.raises(httpcore.ConnectError) as caught:
            await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    try:
        run(main())
    finally:
        sock.close()


def test_a_unix_socket_carries_bytes_both_ways() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "s")
            server = await asyncio.start_unix_server(closing(echo), path)
            try:
                stream = await AsyncioBackend().connect_unix_socket(path, timeout=2.0)
                await stream.write(b"ping", timeout=2.0)
                assert await read_exactly(stream, 4) == b"ping"
                await stream.aclose()
            finally:
                server.close()
                await server.wait_closed()

    run(main())


def test_a_missing_unix_socket_is_a_connect_error() -> None:
    async def main() -> None:
        with pytest.raises(httpcore.ConnectError):
            await AsyncioBackend().connect_unix_socket("/nonexistent/newsbot.sock", timeout=1.0)

    run(main())


def test_sleep_sleeps() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await AsyncioBackend().sleep(0.05)
        assert loop.time() - started >= 0.045

    run(main())


# --- TLS (no certificate tooling here: the failure paths; success is asyncio's start_tls) ---


def test_tls_to_a_server_that_speaks_plain_http_is_a_connect_error() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with tcp_server(plain) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            with pytest.raises(httpcore.ConnectError):
                await stream.start_tls(_tls_context(), server_hostname="localhost", timeout=2.0)

    run(main())


def test_tls_to_a_server_that_hangs_up_is_a_connect_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def main() -> None:
        async with tcp_server(hang_up) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            with pytest.raises(httpcore.ConnectError):
                await stream.start_tls(_tls_context(), server_hostname="localhost", timeout=2.0)

    run(main())


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def main() -> None:
        async with tcp_server(silent) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
            with pytest.raises(httpcore.ConnectTimeout):
                await stream.start_tls(_tls_context(), server_hostname="localhost", timeout=0.2)

    run(main())


# --- under httpcore -------------------------------------------------------------------------


def test_httpcore_keeps_a_connection_alive_and_replaces_one_the_server_closed(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/feed"] = Route(body=b"<rss/>")

    async def main() -> list[int]:
        statuses = []
        async with httpcore.AsyncConnectionPool(
            max_connections=1, network_backend=AsyncioBackend()
        ) as pool:
            for _ in range(3):
                response = await pool.request("GET", feed_server.url("/feed"))
                statuses.append(response.status)
            assert feed_server.connections_opened == 1
            feed_server._httpd.drop_connections()  # the server closes its idle keep-alive
            await asyncio.sleep(0.05)
            response = await pool.request("GET", feed_server.url("/feed"))
            statuses.append(response.status)
            assert response.content == b"<rss/>"
        return statuses

    assert asyncio.run(main()) == [200] * 4
    assert feed_server.connections_opened == 2
