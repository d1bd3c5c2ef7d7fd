"""What several commands need: a --since period, the existing store, entity names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
from bot.settings import Settings

if TYPE_CHECKING:
    from datetime import datetime

    from bot.store import Store


def since_arg(text: str, command: str) -> datetime | None:
    """Now minus a --since duration ("30d"); None after saying what is wrong."""
    from datetime import UTC, datetime, timedelta

    from bot.config import parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        print(f"newsbot {command}: --since: {exc} (e.g. --since 30d)", file=sys.stderr)
        return None


def existing_store(settings: Settings) -> Store | None:
    from bot.store import Store

    if not settings.db_path.exists():
        print(f"No database at {settings.db_path} yet: run `newsbot poll` or `newsbot run` first.",
              file=sys.stderr)
        return None
    return Store(settings.db_path)


def entity_names(settings: Settings) -> Callable[[str], str]:
    from bot.match.rules import load_watchlists

    try:
        watchlists = load_watchlists(settings.rules_dir)
    except ConfigError:
        return lambda entity_id: entity_id
    return names_of(watchlists)


def names_of(watchlists: Any) -> Callable[[str], str]:
    """An entity id → its name in these (already loaded) watchlists, else the id."""
    return lambda entity_id: (getattr(watchlists.entity(entity_id), "name", None) or entity_id)
