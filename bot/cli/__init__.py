"""The `newsbot` command. The only place that reads the environment and turns errors into
messages and exit codes (see DESIGN.md for the contract).

Each module here owns a family of subcommands: `register(sub, common)` adds them to the
parser and returns their handlers. A new family is one module and one line in FAMILIES.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.cli import analysts, diagnose, filings, operate, web
from bot.cli.logs import setup_logging
from bot.errors import ConfigError, NewsbotError
from bot.settings import Settings, env_settings

FAMILIES = (operate, diagnose, analysts, filings, web)
Handler = Callable[[Settings, argparse.Namespace], int]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The argument parser and each subcommand's handler."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Watch news feeds for China's generative-AI industry.",
        parents=[_common(None)],
    )
    # The same options after the command (`newsbot poll --db X`). There they default to
    # SUPPRESS: a default of None would overwrite what was given before the command
    # (`newsbot --db X poll`), as argparse applies a subparser's defaults last.
    common = _common(argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub: Any = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}
    for family in FAMILIES:
        handlers.update(family.register(sub, common))
    return parser, handlers


def _common(default: object) -> argparse.ArgumentParser:
    """--feeds, --rules, --db, with this default."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--feeds", type=Path, default=default,
                        help="feeds file (env NEWSBOT_FEEDS, default feeds.yaml)")
    common.add_argument("--rules", type=Path, default=default,
                        help="rules folder (env NEWSBOT_RULES, default rules/)")
    common.add_argument("--db", type=Path, default=default,
                        help="database (env NEWSBOT_DB, default data/newsbot.db)")
    return common


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = env_settings(feeds_path=args.feeds, rules_dir=args.rules, db_path=args.db)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    setup_logging(settings)
    try:
        return handlers[args.command](settings, args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot filings list | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
