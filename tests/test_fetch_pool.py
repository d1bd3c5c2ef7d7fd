"""bot.ingest.pool.PoolPerOrigin, our httpx transport, against real servers on 127.0.0.1.

The fetcher's tests (test_fetch.py) cover what a feed sees; these pin what the pool itself
promises when used alone: connections kept alive and bounded per origin, requests beyond the
bound waiting rather than failing, and no connection reused unless its last exchange ended
cleanly (a closed idle one, an expired one, a half-read or cancelled body are all replaced).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from bot.ingest.fetch import _tls_context
from bot.ingest.pool import PoolPerOrigin
from tests.feedserver import FeedServer, Route

T = TypeVar("T")
BODY = b"<rss>" + b"x" * 10_000 + b"</rss>"


def with_pool(
    use: Callable[[httpx.AsyncClient], Awaitable[T]], *, per_host: int = 2,
    keepalive_expiry: float = 5.0,
) -> T:
    """Run `use` with an httpx client whose transport is a fresh PoolPerOrigin."""

    async def run() -> T:
        pool = PoolPerOrigin(per_host, 4, _tls_context, keepalive_expiry=keepalive_expiry)
        async with httpx.AsyncClient(transport=pool) as client:
            return await use(client)

    return asyncio.run(run())


@pytest.fixture
def server(feed_server: FeedServer) -> FeedServer:
    feed_server.routes["/feed"] = Route(body=BODY, etag='"v1"')
    feed_server.routes["/slow"] = Route(body=BODY, latency=0.1)
    feed_server.routes["/drip"] = Route(body=BODY, drip=0.05)
    return feed_server


def test_a_304_gives_its_connection_back_without_a_read(server: FeedServer) -> None:
    async def use(client: httpx.AsyncClient) -> list[int]:
        statuses = []
        for _ in range(5):
            async with client.stream("GET", server.url("/feed"),
                                     headers={"If-None-Match": '"v1"'}) as response:
                statuses.append(response.status_code)
        return statuses

    assert with_pool(use) == [304] * 5
    assert server.connections_opened == 1


def test_bodies_read_to_the_end_keep_the_connection(server: FeedServer) -> None:
    async def use(client: httpx.AsyncClient) -> list[bytes]:
        return [(await client.get(server.url("/feed"))).content for _ in range(3)]

    assert with_pool(use) == [BODY] * 3
    assert server.connections_opened == 1


def test_requests_beyond_the_bound_wait_for_a_connection(server: FeedServer) -> None:
    async def use(client: httpx.AsyncClient) -> list[int]:
        responses = await asyncio.gather(*(client.get(server.url("/slow")) for _ in range(6)))
        return [r.status_code for r in responses]

    assert with_pool(use, per_host=2) == [200] * 6
    assert server.connections_opened == 2
    assert server.peak_in_flight == 2


def test_a_connection_the_server_closed_while_idle_is_replaced(server: FeedServer) -> None:
    async def use(client: httpx.AsyncClient) -> list[int]:
        first = await client.get(server.url("/feed"))
        server._httpd.drop_connections()  # the server closes its idle keep-alive
        await asyncio.sleep(0.05)
        second = await client.get(server.url("/feed"))
        return [first.status_code, second.status_code]

    assert with_pool(use) == [200, 200]
    assert server.connections_opened == 2


def test_an_idle_connection_past_its_keepalive_expiry_is_not_reused(
    server: FeedServer,
) -> None:
    async def use(client: httpx.AsyncClient) -> None:
        await client.get(server.url("/feed"))
        await asyncio.sleep(0.15)
        await client.get(server.url("/feed"))

    with_pool(use, keepalive_expiry=0.05)

    assert server.connections_opened == 2


def test_a_body_closed_half_read_closes_its_connection_and_frees_the_slot(
    server: FeedServer,
) -> None:
    async def use(client: httpx.AsyncClient) -> bytes:
        async with client.stream("GET", server.url("/drip")) as response:
            async for _ in response.aiter_raw():
                break  # walk away mid-body
        return (await client.get(server.url("/feed"))).content

    assert with_pool(use, per_host=1) == BODY
    assert server.connections_opened == 2


def test_a_request_cancelled_mid_body_frees_its_slot(server: FeedServer) -> None:
    async def use(client: httpx.AsyncClient) -> bytes:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.get(server.url("/drip"))
        return (await client.get(server.url("/feed"))).content

    assert with_pool(use, per_host=1) == BODY


def test_a_request_cancelled_while_waiting_for_a_connection_leaves_no_trace(
    server: FeedServer,
) -> None:
    async def use(client: httpx.AsyncClient) -> list[int]:
        holder = asyncio.create_task(client.get(server.url("/slow")))
        await asyncio.sleep(0.02)  # the one connection is busy now
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await client.get(server.url("/feed"))
        later = await asyncio.gather(client.get(server.url("/feed")), holder)
        return [r.status_code for r in later]

    assert with_pool(use, per_host=1) == [200, 200]
    assert server.connections_opened == 1


def test_a_server_that_closes_mid_body_is_a_protocol_error(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/feed"] = Route(body=BODY, close_mid_body=True)

    async def use(client: httpx.AsyncClient) -> None:
        await client.get(feed_server.url("/feed"))

    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        with_pool(use)


def test_an_unsupported_scheme_is_refused_by_the_transport() -> None:
    async def run() -> None:
        pool = PoolPerOrigin(1, 4, _tls_context)
        await pool.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/feed"))

    with pytest.raises(httpx.UnsupportedProtocol):
        asyncio.run(run())


def test_https_to_a_plain_http_server_is_a_connect_error_and_frees_the_slot(
    server: FeedServer,
) -> None:
    async def use(client: httpx.AsyncClient) -> bytes:
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url("/feed").replace("http://", "https://"))
        return (await client.get(server.url("/feed"))).content

    assert with_pool(use, per_host=1) == BODY
