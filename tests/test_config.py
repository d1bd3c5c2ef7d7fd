from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_feeds, parse_duration, parse_feeds, settings_from_env
from bot.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_feeds(text, "feeds.yaml")
    return [str(p) for p in info.value.problems]


def test_shipped_feeds_yaml_is_valid_and_has_twenty_feeds_in_both_languages():
    config = load_feeds(REPO / "feeds.yaml")
    assert len(config.feeds) >= 20
    langs = {(f.lang or "")[:2] for f in config.feeds}
    assert {"en", "zh"} <= langs
    assert all(f.url.startswith(("http://", "https://")) for f in config.feeds)


def test_defaults_apply_and_feed_values_override():
    config = parse_feeds(
        "defaults: {interval: 5m, timeout: 7s}\n"
        "feeds:\n"
        "  - {name: A, url: 'https://a.example/feed'}\n"
        "  - {name: B, url: 'https://b.example/feed', interval: 1h, backfill: alert, tags: [x]}\n"
    )
    a, b = config.feeds
    assert (a.interval, a.timeout, a.backfill) == (300.0, 7.0, "silent")
    assert (b.interval, b.backfill, b.tags) == (3600.0, "alert", ("x",))
    assert (a.line, b.line) == (3, 4)


def test_every_mistake_is_reported_with_its_line():
    text = (
        "feeds:\n"
        "  - {name: A, url: 'ftp://a.example/feed'}\n"  # 2: bad scheme
        "  - name: B\n"                                  # 3
        "    url: https://b.example/\n"
        "    interval: soon\n"                            # 5: bad duration
        "    colour: red\n"                               # 6: unknown key
        "  - {url: 'https://c.example/'}\n"               # 7: no name
        "  - {name: D, url: 'https://d.example/'}\n"
        "  - {name: D, url: 'https://e.example/'}\n"      # 9: duplicate name
        "  - {name: F, url: 'https://d.example/'}\n"      # 10: duplicate url
        "  - {name: G, url: 'https://g.example/', backfill: maybe}\n"  # 11
    )
    problems = problems_of(text)
    assert problems == [
        "feeds.yaml:2: 'url' must be an http(s) URL, got 'ftp://a.example/feed'",
        "feeds.yaml:5: 'interval': 'soon' is not a duration (use e.g. 30s, 10m, 1h)",
        "feeds.yaml:6: unknown key 'colour' (allowed: backfill, batch, date, filing_kind, "
        "format, interval, kind, lang, name, tags, timeout, url)",
        "feeds.yaml:7: feed is missing 'name'",
        "feeds.yaml:9: duplicate feed name 'D' (first at line 8)",
        "feeds.yaml:10: duplicate feed url https://d.example/ (first at line 8)",
        "feeds.yaml:11: 'backfill' must be 'silent' or 'alert', got 'maybe'",
    ]


def test_yaml_syntax_error_names_the_line():
    problems = problems_of("feeds:\n  - {name: A, url: [unclosed\n")
    assert len(problems) == 1 and problems[0].startswith("feeds.yaml:3: YAML syntax error")


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_feeds(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}:0: file not found"


def test_short_intervals_are_allowed_with_a_warning():
    config = parse_feeds("feeds:\n  - {name: L, url: 'http://127.0.0.1/f', interval: 2s}\n")
    assert config.feeds[0].interval == 2.0
    assert "shorter than 60s" in str(config.warnings[0])


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("1h", 3600), ("1.5h", 5400), ("45", 45), (90, 90)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "-5s", "0", "5 weeks", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_settings_read_env_and_options_win():
    settings = settings_from_env(
        {"NEWSBOT_DB": "/x/db.sqlite", "NEWSBOT_ADMINS": "1, 22", "TELEGRAM_API_URL": "http://h/"},
        db_path=None, rules_dir=Path("r"),
    )
    assert settings.db_path == Path("/x/db.sqlite")
    assert settings.rules_dir == Path("r")
    assert settings.admins == (1, 22)
    assert settings.telegram_api_url == "http://h"


def test_the_tick_is_a_second_unless_newsbot_tick_says_otherwise():
    assert settings_from_env({}).tick == 1.0
    assert settings_from_env({"NEWSBOT_TICK": "0.1"}).tick == 0.1
    assert settings_from_env({"NEWSBOT_TICK": "2s"}).tick == 2.0
    for bad in ("0", "-1", "soon", "nan", "3600"):
        with pytest.raises(ConfigError, match=f"'{bad}' is not a tick"):
            settings_from_env({"NEWSBOT_TICK": bad})


def test_bad_admin_id_is_a_clear_error():
    with pytest.raises(ConfigError, match="'bob' is not a Telegram user id"):
        settings_from_env({"NEWSBOT_ADMINS": "1,bob"})
