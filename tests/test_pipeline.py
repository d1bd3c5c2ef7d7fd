"""One poll cycle end to end: a real feed server, the real fetcher and parser, a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from bot.ingest.fetch import Fetcher, FetchLimits
from bot.ingest.pipeline import ParsePool, Pipeline
from bot.ingest.reader import Reader
from bot.models import Feed, Hit
from bot.store import Store
from tests.feedserver import Route, closed_port


def rss(*titles: str, channel: str = "Test feed", site: str = "news.example") -> bytes:
    items = "".join(
        f"<item><title>{escape(t)}</title><link>http://{site}/{i}?utm_source=x</link>"
        f"<guid>id-{escape(t)}</guid><pubDate>Fri, 27 Nov 2026 10:0{i % 10}:00 GMT</pubDate>"
        f"<description>About {escape(t)}</description></item>"
        for i, t in enumerate(titles)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{channel}</title>{items}</channel></rss>").encode()


def keyword_matcher(title: str, summary: str) -> list[Hit]:
    """A stand-in matcher: 'Qwen' is alibaba in the llm list, 'Alibaba' a bare mention."""
    hits = []
    for field, text in (("title", title), ("summary", summary)):
        if (at := text.find("Qwen")) >= 0:
            hits.append(Hit("alibaba", "llm", "Qwen", field, at, at + 4))
        if (at := text.find("Alibaba")) >= 0:
            hits.append(Hit("alibaba", "", "Alibaba", field, at, at + 7))
    return hits




def run(store: Store, feeds: list[Feed], *, workers: int = 0):
    async def go():
        async with Fetcher(FetchLimits()) as fetcher:
            pool = ParsePool(workers)
            try:
                return await Pipeline(store, fetcher, Reader(keyword_matcher), parse_pool=pool).run_cycle(feeds)
            finally:
                pool.close()

    return asyncio.run(go())


def test_second_poll_of_an_unchanged_feed_alerts_nothing_new(feed_server, store):
    feed_server.routes["/f"] = Route(body=rss("Qwen 3 released", "Weather"), etag='"v1"')
    feed = Feed("F", feed_server.url("/f"), timeout=5)
    first = run(store, [feed])
    assert [a.stored.title for a in first.alerts] == ["Qwen 3 released"]
    assert first.feeds[0].items_new == 2
    second = run(store, [feed])
    assert second.alerts == [] and second.feeds[0].outcome == "not_modified"
    assert feed_server.requests_to("/f")[-1].headers.get("if-none-match") == '"v1"'


def test_changed_body_without_validators_only_alerts_the_new_item(feed_server, store):
    feed_server.routes["/f"] = Route(body=rss("Qwen 3 released"))
    feed = Feed("F", feed_server.url("/f"), timeout=5)
    run(store, [feed])
    assert run(store, [feed]).feeds[0].outcome == "unchanged"  # same body hash: no parsing
    feed_server.routes["/f"] = Route(body=rss("Qwen 3 released", "Qwen 4 preview"))
    third = run(store, [feed])
    assert [a.stored.title for a in third.alerts] == ["Qwen 4 preview"]


def test_first_poll_is_backfill_and_never_queued_for_subscribers(feed_server, store):
    now = datetime.now(UTC)
    store.subscribers.subscribe(42, "private", None, now)
    feed_server.routes["/f"] = Route(body=rss("Qwen old news"))
    feed = Feed("F", feed_server.url("/f"), timeout=5)
    [old] = run(store, [feed]).alerts
    assert old.stored.backfill and old.queued == 0
    feed_server.routes["/f"] = Route(body=rss("Qwen old news", "Qwen fresh news"))
    [fresh] = run(store, [feed]).alerts
    assert not fresh.stored.backfill and fresh.queued == 1
    assert [j.item.title for j in store.outbox.due(datetime.now(UTC))] == ["Qwen fresh news"]


def test_backfill_alert_feed_pushes_its_first_poll(feed_server, store):
    store.subscribers.subscribe(42, "private", None, datetime.now(UTC))
    feed_server.routes["/f"] = Route(body=rss("Qwen news"))
    [rec] = run(store, [Feed("F", feed_server.url("/f"), timeout=5, backfill="alert")]).alerts
    assert rec.queued == 1


def test_an_entity_mention_without_a_list_is_stored_not_alerted(feed_server, store):
    feed_server.routes["/f"] = Route(body=rss("Alibaba earnings beat"))
    report = run(store, [Feed("F", feed_server.url("/f"), timeout=5)])
    assert report.alerts == [] and report.items_new == 1


def test_hostile_feeds_get_clear_errors_and_the_good_feed_is_processed(feed_server, store):
    sock, port = closed_port()
    feed_server.routes.update({
        "/good": Route(body=rss("Qwen beats benchmark")),
        "/html": Route(body=b"<!doctype html><html><body><p>Hello</p></body></html>",
                       content_type="text/html"),
        "/empty": Route(body=b""),
        "/random": Route(body=bytes(range(256)) * 40, content_type="application/octet-stream"),
        "/path": Route(body=b"/etc/passwd"),
        "/bomb": Route(gzip_bomb=200 * 1024 * 1024),
        "/huge": Route(huge=50 * 1024 * 1024, framing="chunked"),
        "/drip": Route(body=rss("never finishes") * 10, drip=0.5),
        "/loop": Route(redirect_to="/loop"),
        "/404": Route(status=404, body=b"nope"),
        "/quadratic": Route(body=(
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 50_000 + b'">]>'
            b"<rss><channel><title>t</title><item><title>" + b"&a;" * 50_000
            + b"</title></item></channel></rss>")),
    })
    names = ["good", "html", "empty", "random", "path", "bomb", "huge", "drip", "loop", "404", "quadratic"]
    feeds = [Feed(n, feed_server.url("/" + n), timeout=2) for n in names]
    feeds.append(Feed("refused", f"http://127.0.0.1:{port}/feed", timeout=2))
    try:
        report = run(store, feeds)
    finally:
        sock.close()
    outcome = {f.feed: f for f in report.feeds}
    assert outcome["good"].outcome == "ok"
    assert [a.stored.title for a in report.alerts] == ["Qwen beats benchmark"]
    for name in names[1:] + ["refused"]:
        if name == "quadratic":
            continue  # DOCTYPE stripped: either recovered items or a clear error, never a crash
        assert outcome[name].outcome == "failed", name
        assert outcome[name].error, name
    health = {h.name: h for h in store.feeds.health(feeds)}
    assert health["good"].consecutive_errors == 0 and health["good"].items == 1
    assert health["refused"].consecutive_errors == 1
    assert "refused" in health["refused"].last_error
    assert "404" in health["404"].last_error
    assert health["drip"].last_error.startswith("timed out")


def test_a_feed_in_error_backs_off_and_recovers(feed_server, store):
    feed_server.routes["/f"] = Route(status=503, body=b"down")
    feed = Feed("F", feed_server.url("/f"), timeout=5, interval=60)
    run(store, [feed])
    run(store, [feed])
    state = store.feeds.state("F")
    assert state.consecutive_errors == 2 and "503" in state.last_error
    feed_server.routes["/f"] = Route(body=rss("Qwen back"))
    run(store, [feed])
    state = store.feeds.state("F")
    assert state.consecutive_errors == 0 and state.last_ok is not None


def test_process_pool_parses_many_feeds_like_the_thread(feed_server, store):
    feeds = []
    for i in range(10):
        feed_server.routes[f"/f{i}"] = Route(body=rss(f"Qwen item {i}", f"other {i}",
                                                      site=f"news{i}.example"))
        feeds.append(Feed(f"F{i}", feed_server.url(f"/f{i}"), timeout=10))
    report = run(store, feeds, workers=2)
    assert report.count("ok") == 10 and len(report.alerts) == 10


def weather_matcher(title: str, summary: str) -> list[Hit]:
    """Other rules: 'Weather' is a watched entity, Qwen is not (picklable: module level)."""
    at = title.find("Weather")
    return [Hit("weather", "llm", "Weather", "title", at, at + 7)] if at >= 0 else []


def test_workers_read_with_the_rules_of_the_cycle_and_new_rules_start_new_workers(
        feed_server, store):
    """Matching and event reading run in the parse workers, which are given the reader
    when they start: a reload's new reader must reach the next bodies, not the old rules."""
    def serve(n: int) -> list[Feed]:
        feeds = []
        for i in range(10):
            path = f"/r{n}-{i}"
            feed_server.routes[path] = Route(body=rss(f"Qwen item {n}-{i}", f"Weather {n}-{i}",
                                                      site=f"news{i}.example"))
            feeds.append(Feed(f"R{n}-{i}", feed_server.url(path), timeout=10))
        return feeds

    async def go():
        pool = ParsePool(1)
        try:
            async with Fetcher(FetchLimits()) as fetcher:
                pipeline = Pipeline(store, fetcher, Reader(keyword_matcher), parse_pool=pool)
                first = await pipeline.run_cycle(serve(1))
                workers_before = pool._pool
                pipeline.reader = Reader(weather_matcher)  # what Runtime.reload does
                second = await pipeline.run_cycle(serve(2))
                return first, second, workers_before is not pool._pool
        finally:
            pool.close()

    first, second, restarted = asyncio.run(go())
    assert sorted(a.stored.title for a in first.alerts) == [f"Qwen item 1-{i}" for i in range(10)]
    assert sorted(a.stored.title for a in second.alerts) == sorted(
        f"Weather 2-{i}" for i in range(10))
    assert restarted


def test_our_own_outage_is_not_counted_against_the_feeds(store):
    socks = [closed_port() for _ in range(3)]
    feeds = [Feed(f"F{i}", f"http://127.0.0.{i + 1}:{port}/feed", timeout=2)
             for i, (_, port) in enumerate(socks)]
    try:
        run(store, feeds)
    finally:
        for sock, _ in socks:
            sock.close()
    for feed in feeds:
        state = store.feeds.state(feed.name)
        assert state.consecutive_errors == 0, "every host refused: the network is ours to blame"
        assert "network outage suspected" in state.last_error


def test_failures_count_when_other_feeds_answer(feed_server, store):
    sock, port = closed_port()
    feed_server.routes["/ok"] = Route(body=rss("fine"))
    feeds = [Feed("ok", feed_server.url("/ok"), timeout=2),
             Feed("down", f"http://127.0.0.1:{port}/feed", timeout=2)]
    try:
        run(store, feeds)
    finally:
        sock.close()
    assert store.feeds.state("down").consecutive_errors == 1


def test_the_same_story_from_three_feeds_is_one_alert_then_sources(feed_server, store):
    """A utm-tagged link, an AMP link and a reworded title: one story, one alert."""
    store.subscribers.subscribe(42, "private", None, datetime.now(UTC))
    def one(title: str, link: str) -> bytes:
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
                f"<title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>").encode()
    feeds = [Feed(n, feed_server.url("/" + n), timeout=5, backfill="alert") for n in ("a", "b", "c")]
    feed_server.routes["/a"] = Route(body=one("Alibaba releases Qwen 3 open-weight models",
                                              "https://www.reuters.com/tech/qwen-3/"))
    first = run(store, feeds[:1])
    feed_server.routes["/b"] = Route(body=one("Alibaba releases Qwen 3 open-weight models - Reuters",
                                              "https://www.reuters.com/tech/qwen-3/?utm_source=rss&utm_medium=x"))
    feed_server.routes["/c"] = Route(body=one("Qwen 3 open-weight models released by Alibaba",
                                              "https://amp.scmp.com/tech/qwen-3-models/amp"))
    later = run(store, feeds[1:])
    assert len(first.alerts) == 1 and later.alerts == []
    assert sorted(r.stored.feed for r in later.followups) == ["b", "c"]
    [job] = store.outbox.due(datetime.now(UTC))
    assert sorted(s.feed for s in job.sources) == ["b", "c"]  # rendered as "+2 sources" when sent
    [story] = store.stories.recent(5)
    assert story.sources == 3


def test_similar_titles_of_different_stories_stay_apart(feed_server, store):
    feed_server.routes["/a"] = Route(body=rss("Alibaba unveils Qwen 2.5", site="a.example"))
    feed_server.routes["/b"] = Route(body=rss("Alibaba unveils Qwen 3.0", site="b.example"))
    report = run(store, [Feed("A", feed_server.url("/a"), timeout=5),
                         Feed("B", feed_server.url("/b"), timeout=5)])
    assert len(report.alerts) == 2 and report.followups == []
    assert len({r.stored.story_id for r in report.alerts}) == 2


def test_a_feed_is_never_polled_by_two_overlapping_cycles(feed_server, store):
    feed_server.routes["/slow"] = Route(body=rss("Qwen slow"), latency=0.5)
    feed = Feed("S", feed_server.url("/slow"), timeout=5)

    async def go():
        async with Fetcher(FetchLimits()) as fetcher:
            pipeline = Pipeline(store, fetcher, Reader(keyword_matcher))
            first = asyncio.create_task(pipeline.run_cycle([feed]))
            await asyncio.sleep(0.1)
            assert pipeline.busy == {"S"}
            second = await pipeline.run_cycle([feed])  # while the first is still polling
            await first
            return second, pipeline.busy

    second, busy_after = asyncio.run(go())
    assert second.feeds == [] and busy_after == frozenset()
    assert feed_server.hits["/slow"] == 1


def test_a_cycle_reads_no_more_bodies_than_it_can_parse_and_store_at_once(feed_server, store):
    """Backpressure: with parsing stalled, only STAGE_LIMIT bodies are read off the wire; the
    other feeds wait (their deadlines paused) and are all recorded once parsing resumes."""
    from bot.ingest.pipeline import STAGE_LIMIT

    feeds = []
    for i in range(3 * STAGE_LIMIT):
        feed_server.routes[f"/f{i}"] = Route(body=rss(f"Qwen item {i}", site=f"n{i}.example"))
        feeds.append(Feed(f"F{i}", feed_server.url(f"/f{i}"), timeout=1))

    class CountingFetcher(Fetcher):
        bodies_read = 0

        async def _read_body(self, response, attempt):  # type: ignore[no-untyped-def]
            CountingFetcher.bodies_read += 1
            return await super()._read_body(response, attempt)

    class StalledParse(ParsePool):
        def __init__(self) -> None:
            super().__init__(workers=0)
            self.resume = asyncio.Event()

        async def parse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            await self.resume.wait()
            return await super().parse(*args, **kwargs)

    async def go():
        pool = StalledParse()
        async with CountingFetcher(FetchLimits()) as fetcher:
            cycle = asyncio.create_task(
                Pipeline(store, fetcher, Reader(keyword_matcher), parse_pool=pool).run_cycle(feeds))
            await asyncio.sleep(1.5)  # longer than any feed's timeout
            held = CountingFetcher.bodies_read
            pool.resume.set()
            return held, await cycle

    held, report = asyncio.run(go())
    assert held == STAGE_LIMIT
    assert report.count("ok") == len(feeds) and len(report.alerts) == len(feeds)
