"""Scheduling decisions with the clock passed in, never slept on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Feed
from bot.schedule import (
    OutageDetector,
    PollPolicy,
    backoff_delay,
    first_poll_delay,
    is_failing_long,
    is_stale,
    jitter_offset,
    next_poll_time,
    server_requested_delay,
    usual_gap,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NO_JITTER = PollPolicy(jitter=0.0)
FEED = Feed("F", "http://a.example/feed", interval=600)


def delay(when: datetime) -> float:
    return (when - NOW).total_seconds()


def test_next_poll_is_the_interval_when_all_is_well():
    assert delay(next_poll_time(FEED, NOW, policy=NO_JITTER)) == 600


def test_no_poll_comes_sooner_than_the_next_tick():
    fast = Feed("F", "http://localhost/feed", interval=0.25)
    assert delay(next_poll_time(fast, NOW, policy=NO_JITTER)) == 1.0  # a one-second tick
    assert delay(next_poll_time(fast, NOW, policy=PollPolicy(jitter=0, min_delay=0.1))) == 0.25


def test_backoff_doubles_per_consecutive_error_up_to_the_cap_and_never_gives_up():
    delays = [backoff_delay(600, n) for n in range(10)]
    assert delays == [600, 1200, 2400, 4800, 9600, 19200, 21600, 21600, 21600, 21600]
    assert backoff_delay(600, 10_000) == 21600  # retried forever, every 6 h at worst


def test_a_feed_slower_than_the_cap_keeps_its_own_interval():
    assert backoff_delay(86400, 3) == 86400


def test_server_may_ask_for_less_frequent_polling_but_never_more():
    slower = {"cache-control": "public, max-age=3600"}
    faster = {"cache-control": "max-age=60"}
    assert delay(next_poll_time(FEED, NOW, headers=slower, policy=NO_JITTER)) == 3600
    assert delay(next_poll_time(FEED, NOW, headers=faster, policy=NO_JITTER)) == 600
    assert delay(next_poll_time(FEED, NOW, ttl_minutes=120, policy=NO_JITTER)) == 7200


def test_retry_after_in_seconds_or_http_date_is_honoured_and_bounded():
    assert server_requested_delay({"retry-after": "1800"}, None, NOW) == 1800
    date = "Fri, 27 Nov 2026 14:00:00 GMT"
    assert server_requested_delay({"retry-after": date}, None, NOW) == 7200
    huge = {"retry-after": str(30 * 86400)}
    assert delay(next_poll_time(FEED, NOW, headers=huge, policy=NO_JITTER)) == 86400
    assert server_requested_delay({"retry-after": "soon"}, None, NOW) is None


def test_retry_after_on_a_failure_wins_over_a_shorter_backoff():
    when = next_poll_time(FEED, NOW, consecutive_errors=1, headers={"retry-after": "5000"},
                          policy=NO_JITTER)
    assert delay(when) == 5000


def test_jitter_is_stable_per_feed_bounded_and_spreads_feeds():
    offsets = [jitter_offset(f"feed-{i}", 600, 0.1) for i in range(1000)]
    assert all(-60 <= o <= 60 for o in offsets)
    assert jitter_offset("feed-1", 600, 0.1) == offsets[1]  # same after a restart
    seconds = {round(o) for o in offsets}
    assert len(seconds) > 100  # a thousand feeds do not fire in the same second
    assert 0 <= first_poll_delay(Feed("x", "http://x", interval=600)) <= 60


def test_outage_is_every_recent_poll_failing_across_several_hosts():
    detector = OutageDetector(window=300, min_hosts=3)
    for i, host in enumerate(["a", "b", "c"]):
        detector.record(NOW + timedelta(seconds=i), host, ok=False)
    assert detector.is_outage(NOW + timedelta(seconds=3))


def test_one_answer_in_the_window_means_the_network_works():
    detector = OutageDetector(window=300, min_hosts=3)
    detector.record(NOW, "ok-host", ok=True)
    for host in "abcd":
        detector.record(NOW + timedelta(seconds=10), host, ok=False)
    assert not detector.is_outage(NOW + timedelta(seconds=10))
    # the success leaves the window: now it is an outage
    assert detector.is_outage(NOW + timedelta(seconds=301))


def test_one_host_failing_is_not_an_outage():
    detector = OutageDetector(window=300, min_hosts=3)
    for i in range(5):
        detector.record(NOW + timedelta(seconds=i), "same-host", ok=False)
    assert not detector.is_outage(NOW + timedelta(seconds=5))


def hourly(n: int, last: datetime) -> list[datetime]:
    return [last - timedelta(hours=i) for i in range(n)]


def test_usual_gap_is_the_median_gap():
    assert usual_gap(hourly(10, NOW)) == 3600
    assert usual_gap(hourly(2, NOW)) is None


@pytest.mark.parametrize(
    ("silent_for", "stale"),
    [(timedelta(hours=5), False), (timedelta(days=2), False), (timedelta(days=4), True)],
)
def test_stale_when_silent_much_longer_than_usual(silent_for, stale):
    times = hourly(20, NOW - silent_for)
    assert is_stale(times, NOW) is stale


def test_a_weekly_feed_is_not_stale_after_five_days():
    weekly = [NOW - timedelta(days=5 + 7 * i) for i in range(6)]
    assert not is_stale(weekly, NOW)


def test_failing_long_only_past_the_threshold():
    policy = PollPolicy(failing_alert_after=3600)
    assert not is_failing_long(None, NOW, policy)
    assert not is_failing_long(NOW - timedelta(minutes=59), NOW, policy)
    assert is_failing_long(NOW - timedelta(minutes=60), NOW, policy)
