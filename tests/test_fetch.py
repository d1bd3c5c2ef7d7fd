"""bot.ingest.fetch against a real HTTP server on 127.0.0.x: validators, limits and hostile servers."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import time
import zlib
from collections.abc import Callable

import httpx
import pytest

from bot import USER_AGENT
from bot.ingest.fetch import Fetcher, FetchLimits, format_size
from bot.models import Feed, FetchResult, Validators
from tests.feedserver import FeedServer, Route, closed_port

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>t</title>'
    b"<item><title>DeepSeek releases V4</title><link>https://example.com/a</link></item>"
    b"</channel></rss>\n"
)
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


def feed(url: str, timeout: float = 2.0) -> Feed:
    return Feed(name="test feed", url=url, timeout=timeout)


def fetch_one(
    url: str,
    validators: Validators | None = None,
    *,
    limits: FetchLimits | None = None,
    timeout: float = 2.0,
) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(limits or FetchLimits()) as fetcher:
            return await fetcher.fetch(feed(url, timeout), validators or Validators())

    return asyncio.run(run())


def fetch_all(
    jobs: list[tuple[Feed, Validators]], limits: FetchLimits | None = None
) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(limits or FetchLimits()) as fetcher:
            return await fetcher.fetch_many(jobs)

    return asyncio.run(run())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the ordinary path ----------------------------------------------------------------------


def test_a_200_returns_the_body_its_hash_and_the_new_validators(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, etag=ETAG, last_modified=LAST_MODIFIED)

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "ok"
    assert result.body == RSS
    assert result.http_status == 200
    assert result.final_url == feed_server.url("/feed")
    assert result.validators == Validators(ETAG, LAST_MODIFIED, sha256(RSS))
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert all(name == name.lower() for name in result.headers)
    assert result.error is None
    assert 0 < result.elapsed < 2


def test_requests_name_the_project_and_offer_only_encodings_we_can_bound(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/feed"] = Route(body=RSS)

    fetch_one(feed_server.url("/feed"))

    (request,) = feed_server.requests_to("/feed")
    assert request.headers["user-agent"] == USER_AGENT
    assert "newsbot" in request.headers["user-agent"]
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in request.headers


def test_etag_round_trip_gets_a_304_that_keeps_the_old_validators(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, etag=ETAG)
    first = fetch_one(feed_server.url("/feed"))

    second = fetch_one(feed_server.url("/feed"), first.validators)

    assert second.status == "not_modified"
    assert second.http_status == 304
    assert second.body is None
    assert second.validators == first.validators
    assert feed_server.requests_to("/feed")[1].headers["if-none-match"] == ETAG


def test_last_modified_round_trip_gets_a_304(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, last_modified=LAST_MODIFIED)
    first = fetch_one(feed_server.url("/feed"))

    second = fetch_one(feed_server.url("/feed"), first.validators)

    assert second.status == "not_modified"
    assert feed_server.requests_to("/feed")[1].headers["if-modified-since"] == LAST_MODIFIED


def test_a_new_etag_means_a_new_body(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, etag=ETAG)
    first = fetch_one(feed_server.url("/feed"))
    feed_server.routes["/feed"] = Route(body=RSS + b"<!-- v2 -->", etag='"v2"')

    second = fetch_one(feed_server.url("/feed"), first.validators)

    assert second.status == "ok"
    assert second.body == RSS + b"<!-- v2 -->"
    assert second.validators.etag == '"v2"'


def test_same_body_without_validators_is_unchanged_and_not_returned(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/feed"] = Route(body=RSS)
    first = fetch_one(feed_server.url("/feed"))

    second = fetch_one(feed_server.url("/feed"), first.validators)

    assert first.status == "ok"
    assert second.status == "unchanged"
    assert second.body is None
    assert second.http_status == 200
    assert second.validators.body_hash == sha256(RSS)


def test_a_changed_body_is_ok_again_after_unchanged(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=b"<rss>new</rss>")

    result = fetch_one(feed_server.url("/feed"), Validators(body_hash=sha256(RSS)))

    assert result.status == "ok"
    assert result.body == b"<rss>new</rss>"


# --- content encodings ------------------------------------------------------------------------


def test_gzip_bodies_are_decompressed_and_hashed_decompressed(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, gzip=True)

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "ok"
    assert result.body == RSS
    assert result.validators.body_hash == sha256(RSS)


@pytest.mark.parametrize(
    "encode",
    [zlib.compress, lambda data: zlib.compress(data)[2:-4]],
    ids=["zlib-wrapped", "raw"],
)
def test_deflate_bodies_are_decompressed_zlib_wrapped_or_raw(
    feed_server: FeedServer, encode: Callable[[bytes], bytes]
) -> None:
    feed_server.routes["/feed"] = Route(body=encode(RSS), headers={"Content-Encoding": "deflate"})

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "ok"
    assert result.body == RSS


def test_a_multi_member_gzip_body_is_decompressed_whole(feed_server: FeedServer) -> None:
    half = len(RSS) // 2
    body = gzip.compress(RSS[:half]) + gzip.compress(RSS[half:])
    feed_server.routes["/feed"] = Route(body=body, headers={"Content-Encoding": "gzip"})

    assert fetch_one(feed_server.url("/feed")).body == RSS


def test_an_unknown_content_encoding_is_an_error(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=b"\x8b\x00", headers={"Content-Encoding": "br"})

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error == "unsupported Content-Encoding: br"


def test_corrupt_gzip_is_an_error(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(
        body=b"\x1f\x8b" + os.urandom(200), headers={"Content-Encoding": "gzip"}
    )

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error is not None and result.error.startswith("corrupt gzip body")


def test_truncated_gzip_is_an_error(feed_server: FeedServer) -> None:
    body = gzip.compress(RSS * 50)
    feed_server.routes["/feed"] = Route(
        body=body[: len(body) // 2], headers={"Content-Encoding": "gzip"}
    )

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error == "gzip body is truncated"


# --- size caps ------------------------------------------------------------------------------


def test_a_gzip_bomb_is_cut_at_the_decompressed_cap(feed_server: FeedServer) -> None:
    feed_server.routes["/bomb"] = Route(gzip_bomb=256 * 1024 * 1024)  # ~260 KB on the wire

    started = time.perf_counter()
    result = fetch_one(feed_server.url("/bomb"))

    assert result.status == "error"
    assert result.error == "body exceeds 10 MiB (decompressed)"
    assert time.perf_counter() - started < 2


def test_a_body_declared_too_large_is_refused_before_reading(feed_server: FeedServer) -> None:
    feed_server.routes["/huge"] = Route(huge=50 * 1024 * 1024)

    result = fetch_one(feed_server.url("/huge"))

    assert result.status == "error"
    assert result.error == f"body exceeds 10 MiB (Content-Length {50 * 1024 * 1024})"
    assert result.http_status == 200


@pytest.mark.parametrize("framing", ["close", "chunked"])
def test_a_huge_body_without_content_length_is_cut_on_the_wire(
    feed_server: FeedServer, framing: str
) -> None:
    feed_server.routes["/huge"] = Route(huge=50 * 1024 * 1024, framing=framing)  # type: ignore[arg-type]

    result = fetch_one(feed_server.url("/huge"), limits=FetchLimits(max_bytes=1024 * 1024))

    assert result.status == "error"
    assert result.error == "body exceeds 1 MiB"


def test_a_gzip_body_too_large_on_the_wire_is_cut(feed_server: FeedServer) -> None:
    body = gzip.compress(os.urandom(8000))  # random bytes do not compress
    feed_server.routes["/feed"] = Route(
        body=body, headers={"Content-Encoding": "gzip"}, framing="close"
    )

    result = fetch_one(feed_server.url("/feed"), limits=FetchLimits(max_bytes=4000))

    assert result.status == "error"
    assert result.error == "body exceeds 4000 bytes on the wire"


def test_a_body_exactly_at_the_cap_is_accepted_and_one_byte_more_is_not(
    feed_server: FeedServer,
) -> None:
    limits = FetchLimits(max_bytes=1000)
    feed_server.routes["/at"] = Route(body=b"a" * 1000, gzip=True)
    feed_server.routes["/over"] = Route(body=b"a" * 1001, gzip=True)

    at = fetch_one(feed_server.url("/at"), limits=limits)
    over = fetch_one(feed_server.url("/over"), limits=limits)

    assert at.status == "ok" and at.body == b"a" * 1000
    assert over.error == "body exceeds 1000 bytes (decompressed)"


# --- slow servers -----------------------------------------------------------------------------


def test_a_server_dripping_one_byte_at_a_time_hits_the_overall_deadline(
    feed_server: FeedServer,
) -> None:
    # Each byte comes well within any read timeout; only a deadline on the whole fetch stops it.
    feed_server.routes["/drip"] = Route(body=RSS, drip=0.05)

    result = fetch_one(feed_server.url("/drip"), timeout=0.5)

    assert result.status == "error"
    assert result.error == "timed out after 0.5s"
    assert result.elapsed < 1.5


def test_a_server_that_answers_too_late_times_out(feed_server: FeedServer) -> None:
    feed_server.routes["/slow"] = Route(body=RSS, latency=1.0)

    result = fetch_one(feed_server.url("/slow"), timeout=0.3)

    assert result.status == "error"
    assert result.error == "timed out after 0.3s"


# --- redirects --------------------------------------------------------------------------------


def test_redirects_are_followed_and_the_final_url_reported(feed_server: FeedServer) -> None:
    feed_server.routes["/old"] = Route(redirect_to="/moved", redirect_status=301)
    feed_server.routes["/moved"] = Route(redirect_to="/feed", redirect_status=307)
    feed_server.routes["/feed"] = Route(body=RSS, etag=ETAG)

    result = fetch_one(feed_server.url("/old"))

    assert result.status == "ok"
    assert result.body == RSS
    assert result.url == feed_server.url("/old")
    assert result.final_url == feed_server.url("/feed")
    assert result.validators.etag == ETAG


def test_a_redirect_to_another_host_is_followed(
    feed_server: FeedServer, feed_server_on: Callable[[str], FeedServer]
) -> None:
    other = feed_server_on("127.0.0.2")
    other.routes["/feed"] = Route(body=RSS)
    feed_server.routes["/feed"] = Route(redirect_to=other.url("/feed"))

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "ok"
    assert result.final_url == other.url("/feed")


@pytest.mark.parametrize(
    "routes",
    [{"/a": "/a"}, {"/a": "/b", "/b": "/a"}, {"/a": "/b", "/b": "/c", "/c": "/b"}],
    ids=["to-itself", "two-step", "loop-after-a-step"],
)
def test_a_redirect_loop_is_named_as_a_loop(
    feed_server: FeedServer, routes: dict[str, str]
) -> None:
    for path, target in routes.items():
        feed_server.routes[path] = Route(redirect_to=target)

    result = fetch_one(feed_server.url("/a"))

    assert result.status == "error"
    assert result.error is not None and result.error.startswith("redirect loop:")
    assert sum(feed_server.hits.values()) <= 3


def test_too_many_redirects_stop_at_the_limit(feed_server: FeedServer) -> None:
    for i in range(10):
        feed_server.routes[f"/r{i}"] = Route(redirect_to=f"/r{i + 1}")
    feed_server.routes["/r10"] = Route(body=RSS)

    result = fetch_one(feed_server.url("/r0"))

    assert result.status == "error"
    assert result.error == "too many redirects (5)"
    assert sum(feed_server.hits.values()) == 6


def test_exactly_max_redirects_is_still_followed(feed_server: FeedServer) -> None:
    for i in range(5):
        feed_server.routes[f"/r{i}"] = Route(redirect_to=f"/r{i + 1}")
    feed_server.routes["/r5"] = Route(body=RSS)

    assert fetch_one(feed_server.url("/r0")).status == "ok"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed"])
def test_a_redirect_to_a_non_http_scheme_is_refused(feed_server: FeedServer, target: str) -> None:
    feed_server.routes["/feed"] = Route(redirect_to=target)

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error is not None and result.error.startswith("redirect to unsupported scheme")


def test_a_redirect_without_location_is_an_error(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(status=302, body=b"moved somewhere")

    result = fetch_one(feed_server.url("/feed"))

    assert result.error == "HTTP 302 redirect without a Location header"


# --- HTTP statuses and broken connections ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "HTTP 404 Not Found"), (503, "HTTP 503 Service Unavailable"), (410, "HTTP 410 Gone")],
)
def test_an_http_error_status_is_the_feeds_error(
    feed_server: FeedServer, status: int, message: str
) -> None:
    feed_server.routes["/feed"] = Route(status=status, body=b"<html>nope</html>", etag=ETAG)
    old = Validators("old", "older", "hash")

    result = fetch_one(feed_server.url("/feed"), old)

    assert result.status == "error"
    assert result.error == message
    assert result.http_status == status
    assert result.validators == old
    assert result.body is None


def test_a_refused_connection_is_reported_as_such() -> None:
    sock, port = closed_port()
    try:
        result = fetch_one(f"http://127.0.0.1:{port}/feed")
    finally:
        sock.close()

    assert result.status == "error"
    assert result.error == "connection refused"
    assert result.http_status is None


def test_a_connection_closed_mid_body_is_an_error(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, close_mid_body=True)

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error is not None and result.error.startswith("connection closed mid-body")


def test_a_content_length_larger_than_the_body_is_an_error(feed_server: FeedServer) -> None:
    feed_server.routes["/feed"] = Route(body=RSS, content_length=len(RSS) + 100)

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "error"
    assert result.error is not None and result.error.startswith("connection closed mid-body")


def test_a_content_length_shorter_than_the_body_truncates_without_harming_the_next_fetch(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/liar"] = Route(body=RSS, content_length=10)
    feed_server.routes["/feed"] = Route(body=RSS)

    async def run() -> list[FetchResult]:
        async with Fetcher() as fetcher:
            liar = await fetcher.fetch(feed(feed_server.url("/liar")), Validators())
            await asyncio.sleep(0.05)  # let the junk after the lie reach our socket
            honest = await fetcher.fetch(feed(feed_server.url("/feed")), Validators())
            return [liar, honest]

    liar, honest = asyncio.run(run())

    assert liar.status == "ok" and liar.body == RSS[:10]
    assert honest.status == "ok" and honest.body == RSS


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "not a url", "http://"])
def test_an_unusable_feed_url_is_an_error_not_an_exception(url: str) -> None:
    result = fetch_one(url)

    assert result.status == "error"
    assert result.error


# --- bodies that are not feeds: the parser's job; the fetcher hands them over unchanged -------

NOT_FEEDS = {
    "html": b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>",
    "empty": b"",
    "random": os.urandom(4096),
    "path": b"/etc/passwd",
    "entity-expansion": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"A" * 10_000 + b'">]>'
        b"<rss><channel><title>" + b"&a;" * 1000 + b"</title></channel></rss>"
    ),
}


@pytest.mark.parametrize("name", list(NOT_FEEDS))
def test_bodies_that_are_not_feeds_are_returned_for_the_parser_to_judge(
    feed_server: FeedServer, name: str
) -> None:
    feed_server.routes["/feed"] = Route(body=NOT_FEEDS[name], content_type="text/html")

    result = fetch_one(feed_server.url("/feed"))

    assert result.status == "ok"
    assert result.body == NOT_FEEDS[name]


# --- many feeds at once -----------------------------------------------------------------------


def test_one_hostile_feed_does_not_affect_the_others_in_a_cycle(feed_server: FeedServer) -> None:
    sock, port = closed_port()
    feed_server.routes["/bomb"] = Route(gzip_bomb=64 * 1024 * 1024)
    feed_server.routes["/loop"] = Route(redirect_to="/loop")
    feed_server.routes["/gone"] = Route(status=404)
    for i in range(10):
        feed_server.routes[f"/good{i}"] = Route(body=RSS + str(i).encode())
    urls = [f"http://127.0.0.1:{port}/x", feed_server.url("/bomb"), feed_server.url("/loop")]
    urls += [feed_server.url(f"/good{i}") for i in range(10)] + [feed_server.url("/gone")]
    try:
        results = fetch_all(
            [(feed(url), Validators()) for url in urls], FetchLimits(max_bytes=1 << 20)
        )
    finally:
        sock.close()

    assert [r.url for r in results] == urls
    assert [r.status for r in results[:3]] == ["error"] * 3
    assert [r.body for r in results[3:13]] == [RSS + str(i).encode() for i in range(10)]
    assert results[13].error == "HTTP 404 Not Found"


def test_a_dripping_feed_does_not_delay_the_others(feed_server: FeedServer) -> None:
    feed_server.routes["/drip"] = Route(body=RSS, drip=0.1)
    for i in range(20):
        feed_server.routes[f"/f{i}"] = Route(body=RSS, latency=0.02)
    jobs = [(feed(feed_server.url("/drip"), timeout=1.0), Validators())]
    jobs += [(feed(feed_server.url(f"/f{i}")), Validators()) for i in range(20)]

    results = fetch_all(jobs, FetchLimits(max_per_host=4))

    assert results[0].error == "timed out after 1s"
    assert all(r.status == "ok" for r in results[1:])
    assert max(r.elapsed for r in results[1:]) < 0.5


def test_requests_per_host_stay_within_the_per_host_bound(
    feed_server: FeedServer, feed_server_on: Callable[[str], FeedServer]
) -> None:
    second = feed_server_on("127.0.0.2")
    jobs = []
    for server in (feed_server, second):
        for i in range(8):
            server.routes[f"/f{i}"] = Route(body=RSS, latency=0.1)
            jobs.append((feed(server.url(f"/f{i}")), Validators()))

    started = time.perf_counter()
    results = fetch_all(jobs, FetchLimits(max_concurrency=50, max_per_host=2))
    took = time.perf_counter() - started

    assert all(r.status == "ok" for r in results)
    assert feed_server.peak_in_flight == 2
    assert second.peak_in_flight == 2
    assert took < 0.8  # both hosts were served side by side: 4 rounds of 0.1 s, not 8


def test_requests_overall_stay_within_the_global_bound(feed_server: FeedServer) -> None:
    for i in range(9):
        feed_server.routes[f"/f{i}"] = Route(body=RSS, latency=0.1)
    jobs = [(feed(feed_server.url(f"/f{i}")), Validators()) for i in range(9)]

    results = fetch_all(jobs, FetchLimits(max_concurrency=3, max_per_host=10))

    assert all(r.status == "ok" for r in results)
    assert feed_server.peak_in_flight == 3


def test_connections_are_kept_alive_and_reused(feed_server: FeedServer) -> None:
    for i in range(40):
        feed_server.routes[f"/f{i}"] = Route(body=RSS, etag=ETAG)
    jobs = [(feed(feed_server.url(f"/f{i}")), Validators(etag=ETAG)) for i in range(40)]

    results = fetch_all(jobs, FetchLimits(max_per_host=4))

    assert {r.status for r in results} == {"not_modified"}
    assert feed_server.connections_opened <= 4


def test_idle_connections_to_many_hosts_are_closed_beyond_a_few(
    feed_server_on: Callable[[str], FeedServer],
) -> None:
    servers = [feed_server_on(f"127.0.0.{i}") for i in range(2, 10)]
    for server in servers:
        server.routes["/feed"] = Route(body=RSS)
    limits = FetchLimits(max_concurrency=2, max_per_host=1)  # keeps max(4, 2 // 1) idle pools

    async def run() -> tuple[list[FetchResult], int]:
        async with Fetcher(limits) as fetcher:
            results = await fetcher.fetch_many(
                [(feed(s.url("/feed")), Validators()) for s in servers]
            )
            await asyncio.sleep(0.1)  # let the servers notice the closed connections
            return results, sum(s.open_connections for s in servers)

    results, still_open = asyncio.run(run())

    assert [r.status for r in results] == ["ok"] * 8
    assert still_open == 4


# --- the seam and the small pieces ------------------------------------------------------------


def test_a_custom_transport_replaces_the_network() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=gzip.compress(RSS), headers={"Content-Encoding": "gzip"})

    async def run() -> FetchResult:
        async with Fetcher(transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.fetch(feed("https://feeds.example.com/rss"), Validators())

    result = asyncio.run(run())

    assert result.body == RSS
    assert seen[0].headers["user-agent"] == USER_AGENT


@pytest.mark.parametrize(
    "changes",
    [{"max_bytes": 0}, {"max_per_host": 0}, {"max_concurrency": 0}, {"max_redirects": -1}],
)
def test_fetch_limits_refuse_nonsense(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="FetchLimits"):
        FetchLimits(**changes)  # type: ignore[arg-type]


def test_sizes_read_the_way_people_write_them() -> None:
    assert format_size(10 * 1024 * 1024) == "10 MiB"
    assert format_size(64 * 1024) == "64 KiB"
    assert format_size(1000) == "1000 bytes"


def test_a_body_waits_for_admission_without_spending_the_feeds_deadline(
    feed_server: FeedServer,
) -> None:
    """The caller's backpressure: a 2xx body is read only once `admit` returns, and the wait
    (here twice the feed's timeout) is not counted against the feed. A 304 is never held."""
    feed_server.routes["/held"] = Route(body=RSS, etag=ETAG)
    asked: list[str] = []

    async def run() -> tuple[FetchResult, FetchResult]:
        async def admit() -> None:
            asked.append("body")
            await asyncio.sleep(1.0)

        async with Fetcher(FetchLimits()) as fetcher:
            first = await fetcher.fetch(feed(feed_server.url("/held"), timeout=0.5),
                                        Validators(), admit=admit)
            again = await fetcher.fetch(feed(feed_server.url("/held"), timeout=0.5),
                                        first.validators, admit=admit)
            return first, again

    first, again = asyncio.run(run())
    assert (first.status, first.body) == ("ok", RSS)
    assert first.elapsed < 0.5  # the second it waited was the caller's, not the feed's
    assert again.status == "not_modified" and asked == ["body"]
