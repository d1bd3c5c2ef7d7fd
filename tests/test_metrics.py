"""Health and metrics of `newsbot run`: /healthz and Prometheus /metrics (bot/run/metrics.py).

Unit tests drive Health with a clock we move; the end-to-end test runs `newsbot run` against
the fake Bot API and a feed server, and reads /metrics with prometheus-client's own parser.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import ConfigError
from bot.ingest.pipeline import CycleReport, FeedReport
from bot.run.metrics import Health, Metrics, MetricsServer
from bot.settings import metrics_listen, settings_from_env
from tests.feedserver import Route
from tests.test_telegram_e2e import MATCH, Deployment, running, wait_until
from tests.webstore import fetch, free_port


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, labels) → value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


# ---------------------------------------------------------------------------- Health

def test_healthy_until_three_poll_intervals_pass_without_a_cycle_ending() -> None:
    clock = Clock()
    health = Health(lambda: 10.0, clock)
    assert health.check() == (True, "starting: no poll cycle has ended yet")
    clock.now += 31
    ok, reason = health.check()
    assert not ok and "no poll cycle has ended since start 31s ago (limit 30s" in reason
    health.cycle_ended()
    clock.now += 29
    assert health.check() == (True, "ok: the last poll cycle ended 29s ago")
    clock.now += 2
    ok, reason = health.check()
    assert not ok and "ended 31s ago" in reason and "stalled" in reason


def test_a_dead_delivery_worker_is_unhealthy_whatever_the_cycles() -> None:
    clock = Clock()
    alive = [True]
    health = Health(lambda: 10.0, clock, worker_alive=lambda: alive[0])
    health.cycle_ended()
    assert health.check()[0]
    alive[0] = False
    assert health.check() == (False, "the outbox delivery worker is not running")


def test_a_cycle_moves_the_counters_by_what_it_did() -> None:
    metrics = Metrics(wall=lambda: 1_700_000_000.0)
    report = CycleReport(started=datetime(2026, 3, 1, tzinfo=UTC), duration=0.7, feeds=[
        FeedReport("a", "ok", items_seen=5, items_new=3), FeedReport("b", "failed", error="x"),
        FeedReport("c", "not_modified")])
    metrics.cycle_ended(report)
    metrics.cycle_ended(CycleReport(started=report.started, duration=0.2,
                                    feeds=[FeedReport("b", "failed", error="x")]))
    found = samples(metrics.exposition().decode())
    assert value(found, "newsbot_items_new_total") == 3
    assert value(found, "newsbot_feed_polls_total", outcome="failed") == 2
    assert value(found, "newsbot_feed_polls_total", outcome="ok") == 1
    assert value(found, "newsbot_cycle_duration_seconds_count") == 2
    assert value(found, "newsbot_cycle_duration_seconds_bucket", le="0.25") == 1
    # the second cycle failed everywhere: the last success is still the first one
    assert value(found, "newsbot_last_successful_cycle_timestamp_seconds") == 1_700_000_000.0
    assert value(found, "newsbot_messages_sent_total") == 0  # no worker: zero, not absent


def test_metrics_port_is_a_port_or_host_and_port() -> None:
    assert metrics_listen("9108") == ("127.0.0.1", 9108)
    assert metrics_listen("0.0.0.0:9108") == ("0.0.0.0", 9108)
    assert metrics_listen("") is None
    with pytest.raises(ConfigError, match="NEWSBOT_METRICS_PORT.*not a port"):
        settings_from_env({"NEWSBOT_METRICS_PORT": "metrics"})


def test_the_server_answers_metrics_health_and_404() -> None:
    async def scenario() -> tuple[int, str, int, int]:
        clock = Clock()
        metrics = Metrics(interval=lambda: 1.0, clock=clock)
        server = MetricsServer(metrics, "127.0.0.1", 0)
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}"
            status, _, body = await asyncio.to_thread(fetch, url + "/metrics")
            clock.now += 5
            stalled, _, reason = await asyncio.to_thread(fetch, url + "/healthz")
            missing, _, _ = await asyncio.to_thread(fetch, url + "/nothing")
        finally:
            await server.close()
        assert "newsbot_config_reloads_total" in body
        return status, reason, stalled, missing

    status, reason, stalled, missing = asyncio.run(scenario())
    assert (status, stalled, missing) == (200, 503, 404)
    assert "no poll cycle has ended since start 5s ago" in reason


def test_a_port_in_use_is_an_error_that_names_the_setting() -> None:
    from bot.errors import NewsbotError

    async def scenario() -> None:
        first = MetricsServer(Metrics(), "127.0.0.1", 0)
        await first.start()
        try:
            with pytest.raises(NewsbotError, match=f"127.0.0.1:{first.port}.*NEWSBOT_METRICS_PORT"):
                await MetricsServer(Metrics(), "127.0.0.1", first.port).start()
        finally:
            await first.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------------------- end to end

@dataclass
class MonitoredDeployment(Deployment):
    """`newsbot run` with NEWSBOT_METRICS_PORT set."""

    port: int = field(default_factory=free_port)

    def env(self) -> dict[str, str]:
        return super().env() | {"NEWSBOT_METRICS_PORT": str(self.port)}

    def metrics(self) -> dict:
        status, _, text = fetch(f"http://127.0.0.1:{self.port}/metrics")
        assert status == 200
        return samples(text)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitoredDeployment]:
    # a 30 s fetch timeout: the stalled feed below must hang, not fail; polled every second,
    # so three poll intervals (the stall limit of /healthz) are 3 s
    with running(tmp_path_factory.mktemp("metrics"), MonitoredDeployment, "30s", "1s") as d:
        assert isinstance(d, MonitoredDeployment)
        yield d


def test_metrics_count_a_poll_an_alert_a_429_and_the_delivery(
        monitored: MonitoredDeployment) -> None:
    d = monitored
    d.say(301, "/start")
    d.fake.fail("sendMessage", kind="429", chat_id=301, retry_after=1)
    d.publish("m1", MATCH)
    d.fake.wait_for(lambda sent: any(m.chat_id == 301 and "Ernie" in m.text for m in sent), 20)
    wait_until(lambda: value(d.metrics(), "newsbot_messages_sent_total") == 1, 10,
               "the delivery to be counted")
    found = d.metrics()
    assert value(found, "newsbot_items_new_total") == 2  # the backfilled weather, the match
    assert value(found, "newsbot_alerts_total") == 1
    assert value(found, "newsbot_alert_deliveries_queued_total") == 1
    assert value(found, "newsbot_telegram_flood_waits_total") == 1
    assert value(found, "newsbot_delivery_retries_total") == 0
    assert value(found, "newsbot_deliveries_failed_total") == 0
    assert value(found, "newsbot_outbox_rows", state="held") == 0
    assert value(found, "newsbot_outbox_rows", state="pending") == 0
    assert value(found, "newsbot_feed_polls_total", outcome="ok") == 2
    assert value(found, "newsbot_cycle_duration_seconds_count") >= 2
    assert value(found, "newsbot_feeds", health="ok") == 1
    assert value(found, "newsbot_last_successful_cycle_timestamp_seconds") > 1.7e9
    assert fetch(f"http://127.0.0.1:{d.port}/healthz")[0] == 200


def test_reloads_are_counted_as_ok_or_failed(monitored: MonitoredDeployment) -> None:
    d = monitored
    feeds_yaml = d.root / "feeds.yaml"
    good = feeds_yaml.read_text()
    before = d.metrics()
    feeds_yaml.write_text(good + "  - {name: broken\n")
    wait_until(lambda: value(d.metrics(), "newsbot_config_reloads_total", result="failed")
               == value(before, "newsbot_config_reloads_total", result="failed") + 1, 15,
               "the broken edit to be counted")
    feeds_yaml.write_text(good.replace("lang: en", "lang: en, tags: [tech]"))
    wait_until(lambda: value(d.metrics(), "newsbot_config_reloads_total", result="ok")
               == value(before, "newsbot_config_reloads_total", result="ok") + 1, 15,
               "the good edit to be counted")


def test_healthz_turns_503_while_the_poll_cycle_stalls(monitored: MonitoredDeployment) -> None:
    d = monitored
    body = d.feeds.routes["/feed.xml"].body
    answer = threading.Event()
    # a feed that hangs until it is told to answer (20 s at most)
    d.feeds.routes["/feed.xml"] = Route(body=body, latency=20.0, release=answer)
    try:
        wait_until(lambda: fetch(f"http://127.0.0.1:{d.port}/healthz")[0] == 503, 15,
                   "/healthz to notice the stall")
        status, _, reason = fetch(f"http://127.0.0.1:{d.port}/healthz")
        assert status == 503 and "polling is stalled" in reason and "limit 3s" in reason
        d.feeds.routes["/feed.xml"] = Route(body=body)
    finally:
        answer.set()
    wait_until(lambda: fetch(f"http://127.0.0.1:{d.port}/healthz")[0] == 200, 20,
               "/healthz to recover once the feed answers")
