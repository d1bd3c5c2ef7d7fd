"""Running the bot: `run`, `poll`, `check`, `status`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from bot.cli.shared import existing_store
from bot.errors import ConfigError
from bot.settings import Settings

log = logging.getLogger("bot")


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add this module's subcommands; return their handlers by name."""
    sub.add_parser("run", parents=[common],
                   help="run the bot: poll on schedule, alert (Telegram or console)")
    poll = sub.add_parser("poll", parents=[common], help="one poll cycle now; print new matched items")
    poll.add_argument("--json", action="store_true", help="JSON Lines, one object per new matched item")
    sub.add_parser("check", parents=[common], help="validate feeds.yaml and rules/")
    status = sub.add_parser("status", parents=[common], help="feed health")
    status.add_argument("--json", action="store_true")
    return {"run": cmd_run, "poll": cmd_poll, "check": cmd_check, "status": cmd_status}


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from bot.run.configuration import load_config
    from bot.run.console import run_console
    from bot.run.runtime import Runtime

    config = load_config(settings)
    for warning in config.feeds.warnings:
        log.warning("%s", warning)
    if settings.telegram_token:
        from bot.telegram.app import run_telegram

        return run_telegram(settings, config)

    async def forever() -> None:
        runtime = Runtime(settings, config)
        try:
            await run_console(runtime)
        finally:
            await runtime.aclose()

    asyncio.run(forever())
    return 0


def cmd_poll(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    from dataclasses import replace

    from bot.render.terminal import alert_json
    from bot.run.configuration import load_config
    from bot.run.runtime import Runtime, print_report

    config = load_config(settings)

    async def once() -> None:
        runtime = Runtime(settings, config)
        sources: dict[int, int] = {}
        try:
            report = await runtime.poll()
            if args.json:  # each story's source count once the whole cycle is stored
                stories = {r.stored.story_id for r in report.alerts + report.followups}
                sources = runtime.store.stories.sources([s for s in stories if s is not None])
        finally:
            await runtime.aclose()
        if args.json:
            # every new matched item: the ones that alerted, and the ones that joined a story
            matched = [r for r in report.alerts + report.followups
                       if any(h.list for h in r.stored.hits)]
            for recorded in sorted(matched, key=lambda r: r.stored.id):
                item = replace(recorded.stored,
                               sources=sources.get(recorded.stored.story_id or -1, 1))
                print(alert_json(item, alerted=recorded.kind == "alert"), flush=True)
        else:
            print_report(report, config, sys.stdout)
        for feed in report.feeds:
            if feed.outcome == "failed":
                print(f"{feed.feed}: {feed.error}", file=sys.stderr)
        print(report.summary(), file=sys.stderr)

    asyncio.run(once())
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.run.configuration import load_config

    config = load_config(settings)
    for warning in config.feeds.warnings:
        print(f"{warning} (warning)", file=sys.stderr)
    lists = config.watchlists.lists
    print(
        f"ok: {len(config.feeds.feeds)} feeds in {settings.feeds_path}; "
        f"{len(lists)} watchlists in {settings.rules_dir}/ "
        f"({', '.join(f'{w.id}: {len(w.entities)} entities' for w in lists)})"
    )
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.config import load_feeds
    from bot.render.terminal import health_json, health_table

    feeds = None
    try:
        feeds = load_feeds(settings.feeds_path).feeds
    except ConfigError as exc:
        # Status must still work with a broken feeds.yaml: show what the store knows.
        for problem in exc.problems:
            print(f"{problem} (showing every feed the database knows)", file=sys.stderr)
    store = existing_store(settings)
    if store is None:
        rows = []
    else:
        rows = store.feeds.health(feeds)
    print(health_json(rows) if args.json else health_table(rows))
    return 0
