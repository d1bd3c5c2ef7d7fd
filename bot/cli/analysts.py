"""Analysts' views from the command line: `recent`, `search`, `export`, `trends`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.cli.shared import entity_names, existing_store, since_arg
from bot.settings import Settings


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add this module's subcommands; return their handlers by name."""
    trends = sub.add_parser("trends", parents=[common],
                            help="stories per entity per day (week beyond a month), with the "
                                 "change against the previous period")
    trends.add_argument("--since", default="30d", help="the period (e.g. 7d, 30d, 90d)")
    trends.add_argument("--list", dest="list_id", help="only this watchlist")
    trends.add_argument("--entity", action="append", default=[],
                        help="this entity id (repeat for several; default: the top 8)")
    shape = trends.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true")
    trends.add_argument("--png", type=Path, help="also draw the chart into this PNG file")
    export = sub.add_parser("export", parents=[common],
                            help="stories with their sources, entities and lists, as CSV or "
                                 "JSON Lines")
    export.add_argument("--since", default="30d", help="how far back (e.g. 7d, 12h; default 30d)")
    export.add_argument("--list", dest="list_id", help="only stories of this watchlist")
    export.add_argument("--entity", help="only stories naming this entity id")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--bom", action="store_true",
                        help="start the CSV with a UTF-8 BOM (Excel then reads Chinese right)")
    export.add_argument("-o", "--output", type=Path, help="write to this file (default stdout)")
    search = sub.add_parser(
        "search", parents=[common],
        help='full-text search of stored items: words, "a phrase", entity:ID, list:ID, since:30d')
    search.add_argument("query", nargs="+", help='e.g. 智谱 GLM since:30d, or "open source"')
    search.add_argument("-n", type=int, default=10, help="how many stories (default 10)")
    search.add_argument("--json", action="store_true")
    recent = sub.add_parser("recent", parents=[common], help="latest matched items from the store")
    recent.add_argument("-n", type=int, default=10, help="how many (default 10)")
    recent.add_argument("--list", dest="list_id", help="only this watchlist")
    recent.add_argument("--entity", help="only this entity id")
    recent.add_argument("--json", action="store_true")
    return {"recent": cmd_recent, "search": cmd_search, "export": cmd_export,
            "trends": cmd_trends}


def cmd_recent(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render.terminal import alert_json, format_alert

    store = existing_store(settings)
    if store is None:
        return 0
    items = store.stories.recent(max(1, args.n), list_id=args.list_id, entity=args.entity)
    names = entity_names(settings)
    for item in items:
        print(alert_json(item) if args.json else format_alert(item, names) + "\n")
    if not items and not args.json:
        print("No matched items yet.", file=sys.stderr)
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.render.terminal import alert_json, format_alert
    from bot.store.search import SearchError

    store = existing_store(settings)
    if store is None:
        return 0
    query = " ".join(args.query)
    try:
        items = store.search.find(query, max(1, args.n), now=datetime.now(UTC))
    except SearchError as exc:
        print(f"newsbot search: {exc}", file=sys.stderr)
        return 2
    names = entity_names(settings)
    for item in items:
        print(alert_json(item) if args.json else format_alert(item, names) + "\n")
    if not items and not args.json:
        print(f"Nothing stored matches {query}.", file=sys.stderr)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:

    from bot.render.export import export_csv, export_jsonl

    since = since_arg(args.since, "export")
    if since is None:
        return 2
    store = existing_store(settings)
    if store is None:
        return 1
    stories = store.stories.export(since, list_id=args.list_id, entity=args.entity)
    text = (export_csv(stories, bom=args.bom) if args.format == "csv"
            else export_jsonl(stories))
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    print(f"{len(stories)} stories since {since:%Y-%m-%d %H:%M} UTC"
          + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def cmd_trends(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.config import parse_duration
    from bot.render.trends import caption, period_trend, trend_csv, trend_json

    try:
        days = max(1, round(parse_duration(args.since) / 86400))
    except ValueError as exc:
        print(f"newsbot trends: --since: {exc} (e.g. --since 30d)", file=sys.stderr)
        return 2
    store = existing_store(settings)
    if store is None:
        return 1
    entities = [e.lower() for e in args.entity]
    trend = period_trend(
        lambda a, b: store.stories.entity_days(a, b, list_id=args.list_id, entities=entities),
        days=days, now=datetime.now(UTC), entities=entities, name=entity_names(settings))
    if not any(s.total for s in trend.series):
        print(f"No stories in the last {days} days"
              + (f" for {', '.join(entities)}" if entities else "") + ".", file=sys.stderr)
        return 0
    if args.png:
        from bot.render.chart import draw_trend

        scope = ", ".join(entities) or args.list_id or "top entities"
        args.png.write_bytes(draw_trend(trend, f"Stories per entity, last {days} days ({scope})"))
        print(f"chart written to {args.png}", file=sys.stderr)
    if args.json:
        print(trend_json(trend))
    elif args.csv:
        sys.stdout.write(trend_csv(trend))
    else:
        print(f"Stories per entity, last {days} days (change against the {days} before):")
        print(caption(trend))
    return 0
