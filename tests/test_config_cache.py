"""bot.config.load_feeds keeps a valid feeds.yaml, parsed, in a pickle: never a stale one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_feeds
from bot.errors import ConfigError

FEEDS = (
    "defaults: {interval: 5m}\n"
    "feeds:\n"
    "  - {name: A, url: 'https://a.example/feed'}\n"
    "  - {name: B, url: 'http://127.0.0.1/f', interval: 2s, tags: [x]}\n"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder that load_feeds uses (NEWSBOT_CACHE_DIR)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def feeds_file(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS, encoding="utf-8")
    return path


def test_a_cached_load_equals_a_fresh_parse_warnings_and_lines_included(
    cache: Path, feeds_file: Path
) -> None:
    first = load_feeds(feeds_file)
    again = load_feeds(feeds_file)

    assert len(list(cache.glob("feeds-*.pickle"))) == 1
    assert again == first == load_feeds(feeds_file, cache=False)
    assert [f.line for f in again.feeds] == [3, 4]
    assert [w.line for w in again.warnings] == [4]  # the 2s interval


def test_an_edited_file_is_parsed_again_not_served_from_the_cache(
    cache: Path, feeds_file: Path
) -> None:
    load_feeds(feeds_file)
    feeds_file.write_text(FEEDS.replace("name: A", "name: Renamed"), encoding="utf-8")

    assert [f.name for f in load_feeds(feeds_file).feeds] == ["Renamed", "B"]


def test_a_broken_file_is_never_cached_and_always_reported(
    cache: Path, feeds_file: Path
) -> None:
    feeds_file.write_text(FEEDS + "  - {name: A, url: 'https://dup.example/feed'}\n")

    for _ in range(2):
        with pytest.raises(ConfigError, match="duplicate feed name"):
            load_feeds(feeds_file)
    assert not list(cache.glob("feeds-*.pickle"))


def test_a_corrupt_cache_file_is_replaced_by_a_fresh_parse(
    cache: Path, feeds_file: Path
) -> None:
    expected = load_feeds(feeds_file)
    (pickled,) = cache.glob("feeds-*.pickle")
    pickled.write_bytes(b"not a pickle")

    assert load_feeds(feeds_file) == expected
    assert pickled.read_bytes() != b"not a pickle"


def test_an_unwritable_cache_only_costs_speed(
    tmp_path: Path, feeds_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NEWSBOT_CACHE_DIR", str(blocker / "cache"))

    assert [f.name for f in load_feeds(feeds_file).feeds] == ["A", "B"]
