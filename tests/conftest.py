"""Shared fixtures. Each fixture is named for what it gives; add yours below, grouped by topic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.feedserver import FeedServer

# --- feed servers (tests/feedserver.py) ---------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running feed server on 127.0.0.1 with no routes; stopped after the test."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_server_on() -> Iterator[Callable[[str], FeedServer]]:
    """A factory: `feed_server_on("127.0.0.2")` starts another server on that host."""
    servers: list[FeedServer] = []

    def start(host: str) -> FeedServer:
        server = FeedServer(host).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- the store (bot/store.py) on a real SQLite file -------------------------------------------


@pytest.fixture
def db_path(tmp_path) -> Path:
    """Where a test's database lives (the file need not exist yet)."""
    return tmp_path / "newsbot.db"


@pytest.fixture
def store(db_path) -> Iterator[Store]:
    """A store on a fresh SQLite file, closed after the test."""
    s = Store(db_path)
    yield s
    s.close()
