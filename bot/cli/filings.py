"""The CAC filing registry from the command line: `filings import | list | suggest`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from bot.cli.shared import existing_store, names_of, since_arg
from bot.errors import FilingListError
from bot.models import FILING_KINDS, FILING_LISTS
from bot.settings import Settings

_ISO_DATE = re.compile(r"20\d\d-[01]\d(?:-[0-3]\d)?")


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add this module's subcommands; return their handlers by name."""
    # the options (--db, --rules …) belong to each action, as to every other command
    filings = sub.add_parser("filings",
                             help="the CAC filing registry: import a list, list or suggest filers")
    commands = filings.add_subparsers(dest="filings_command", required=True, metavar="ACTION")
    load = commands.add_parser(
        "import", parents=[common],
        help="store a filing list (XLSX, CSV or HTML); an old batch is backfill unless --alert")
    load.add_argument("file", type=Path)
    load.add_argument("--kind", choices=FILING_KINDS, default="deep-synthesis")
    load.add_argument("--batch", help='the batch label, e.g. "第15批" (default: the file title)')
    load.add_argument("--date", help="the batch's date, e.g. 2025-11-06 (default: the title's)")
    load.add_argument("--format", choices=("xlsx", "csv", "html"),
                      help="the file's format (default: read from its bytes)")
    load.add_argument("--alert", action="store_true",
                      help="queue the batch alert for the chats that want it")
    show = commands.add_parser("list", parents=[common], help="stored filings, newest batch first")
    show.add_argument("--entity", help="only filings of this entity id")
    show.add_argument("--since", help="a period (30d) or a date (2025-01-01)")
    show.add_argument("-n", type=int, default=0, help="at most this many (default all)")
    show.add_argument("--json", action="store_true", help="JSON Lines, one filing a line")
    suggest = commands.add_parser(
        "suggest", parents=[common],
        help="unwatched filers with several filings, as YAML entities to paste into rules/")
    suggest.add_argument("--min", type=int, default=2, help="filings at least (default 2)")
    suggest.add_argument("--list", dest="list_id", default="deepfake",
                         help="the rules file they are meant for (default deepfake)")
    return {"filings": cmd_filings}


def cmd_filings(settings: Settings, args: argparse.Namespace) -> int:
    """Run the `filings` action asked for."""
    action = {"import": cmd_import, "list": cmd_list, "suggest": cmd_suggest}
    return action[args.filings_command](settings, args)


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """`newsbot filings import FILE`: read, match and store a list; alert only with --alert."""
    from datetime import UTC, datetime

    from bot.ingest.filings import MAX_BYTES
    from bot.ingest.registry import prepare
    from bot.match.rules import load_watchlists
    from bot.models import FilingSource
    from bot.render.filings import render_batch_alert
    from bot.render.i18n import translator
    from bot.store import Store

    if args.date and not _ISO_DATE.fullmatch(args.date):
        print(f"newsbot filings import: --date {args.date!r}: use an ISO date like 2025-11-06",
              file=sys.stderr)
        return 2
    path: Path = args.file
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:  # refused before a byte is read
            raise FilingListError(f"{path}: {size:,} bytes, over the {MAX_BYTES:,}-byte cap "
                                  "for a filing list")
        body = path.read_bytes()
    except OSError as exc:
        print(f"newsbot filings import: {path}: cannot read: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    watchlists = load_watchlists(settings.rules_dir)
    source = FilingSource(kind=args.kind, batch=args.batch, date=args.date, format=args.format)
    prepared = prepare(body, str(path), source, watchlists, origin=path.name)
    store = Store(settings.db_path)
    try:
        outcome = store.filings.record(
            prepared.batch, prepared.filings, datetime.now(UTC), alert=args.alert,
            compose=lambda news, lang: render_batch_alert(news, watchlists,
                                                          translator(lang)).html)
    finally:
        store.close()
    names = names_of(watchlists)  # the rules this import matched with, not read again
    watched: dict[str, int] = {}
    for m in prepared.filings:
        for h in m.hits[:1]:
            watched[names(h.entity)] = watched.get(names(h.entity), 0) + 1
    batch = outcome.batch
    print(f"{batch.label} ({batch.kind}{', ' + batch.date if batch.date else ''}): "
          f"{len(prepared.filings)} filings read, {outcome.new} new, {outcome.updated} updated, "
          f"{outcome.unchanged} unchanged; batch totals {batch.filings} filings, "
          f"{batch.filers} filers")
    if prepared.table.skipped:
        skipped = prepared.table.skipped
        print(f"{skipped} row{'s' if skipped != 1 else ''} below the header without a filer "
              "skipped (notes, subtotals)")
    print("watched filers: " + (", ".join(f"{k} {v}" for k, v in sorted(
        watched.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"))
    print(f"batch alert queued for {outcome.queued} chats" if args.alert
          else "backfill: stored, no alert queued (--alert queues one)")
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """`newsbot filings list`: stored filings, newest batch first."""
    since = None
    if args.since:
        if _ISO_DATE.fullmatch(args.since):
            since = args.since
        else:
            moment = since_arg(args.since, "filings list")
            if moment is None:
                return 2
            since = moment.date().isoformat()
    store = existing_store(settings)
    if store is None:
        return 0
    try:
        filings = store.filings.search(entity=args.entity, since=since, limit=args.n or None)
    finally:
        store.close()
    for f in filings:
        if args.json:
            print(json.dumps({
                "id": f.id, "kind": f.kind, "batch": f.batch, "date": f.date, "filer": f.filer,
                "algorithm": f.algorithm, "role": f.role, "product": f.product,
                "purpose": f.purpose, "number": f.number, "note": f.note,
                "entities": list(f.entities), "first_seen": f.first_seen.isoformat()},
                ensure_ascii=False))
        else:
            tags = f"  [{', '.join(f.entities)}]" if f.entities else ""
            print(f"{f.batch} {f.date or '-'}  {f.filer}  {f.algorithm}"
                  f"{' (' + f.product + ')' if f.product else ''}  {f.number or '-'}{tags}")
    if not filings and not args.json:
        print("No filings stored" + (f" for {args.entity}" if args.entity else "") + ".",
              file=sys.stderr)
    return 0


def cmd_suggest(settings: Settings, args: argparse.Namespace) -> int:
    """`newsbot filings suggest`: unwatched repeat filers as YAML entities."""
    from bot.ingest.suggest import suggest_entities
    from bot.match.rules import load_watchlists
    from bot.render.filings import render_suggestions

    watchlists = load_watchlists(settings.rules_dir)
    store = existing_store(settings)
    if store is None:
        return 0
    try:
        counts = store.filings.filer_counts(min_filings=1)
    finally:
        store.close()
    list_id = args.list_id if args.list_id in watchlists.list_ids() else FILING_LISTS[
        "deep-synthesis"]
    suggestions = suggest_entities(counts, watchlists, min_filings=max(1, args.min))
    sys.stdout.write(render_suggestions(suggestions, list_id))
    return 0
