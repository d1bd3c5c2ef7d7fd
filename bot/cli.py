"""The `newsbot` command. The only place that reads the environment and turns errors into
messages and exit codes (see DESIGN.md for the contract)."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.errors import ConfigError, NewsbotError
from bot.settings import Settings, env_settings

if TYPE_CHECKING:
    from datetime import datetime

    from bot.store import Store

log = logging.getLogger("bot")


class RedactingFilter(logging.Filter):
    """Remove the bot token from every log record (httpx and PTB log URLs that carry it)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._patterns = [re.compile(re.escape(s)) for s in secrets if s]
        self._generic = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern in self._patterns:
            message = pattern.sub("<token>", message)
        message = self._generic.sub("bot<token>", message)
        record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for NEWSBOT_LOG_FORMAT=json."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter([settings.telegram_token or ""]))
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, settings.log_level, logging.INFO))
    # httpx logs every request URL at INFO, and Telegram URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--feeds", type=Path, help="feeds file (env NEWSBOT_FEEDS, default feeds.yaml)")
    common.add_argument("--rules", type=Path, help="rules folder (env NEWSBOT_RULES, default rules/)")
    common.add_argument("--db", type=Path, help="database (env NEWSBOT_DB, default data/newsbot.db)")

    parser = argparse.ArgumentParser(
        prog="newsbot", description="Watch news feeds for China's generative-AI industry.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run the bot: poll on schedule, alert (Telegram or console)")
    poll = sub.add_parser("poll", parents=[common], help="one poll cycle now; print new matched items")
    poll.add_argument("--json", action="store_true", help="JSON Lines, one object per new matched item")
    sub.add_parser("check", parents=[common], help="validate feeds.yaml and rules/")
    sub.add_parser("match", parents=[common], help="stdin JSONL items -> stdout JSONL matches")
    explain = sub.add_parser("explain", parents=[common],
                             help="why TEXT (or stored item ID) matches, or does not")
    explain.add_argument("text", nargs="+",
                         help="the text to explain, a stored item id, or two item ids "
                              "(are they one story, and why)")
    replay = sub.add_parser("replay", parents=[common],
                            help="re-run the current rules over stored items: what would change")
    replay.add_argument("--since", default="7d", help="how far back (e.g. 12h, 7d; default 7d)")
    replay.add_argument("--json", action="store_true", help="one JSON object per changed item")
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
    status = sub.add_parser("status", parents=[common], help="feed health")
    status.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = env_settings(feeds_path=args.feeds, rules_dir=args.rules, db_path=args.db)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    setup_logging(settings)
    handler = COMMANDS[args.command]
    try:
        return handler(settings, args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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


def cmd_match(settings: Settings, args: argparse.Namespace) -> int:
    from bot.match.matching import match_jsonl
    from bot.match.rules import load_watchlists

    watchlists = load_watchlists(settings.rules_dir)
    out = sys.stdout
    for line in match_jsonl(sys.stdin, watchlists):
        out.write(line + "\n")
    out.flush()
    return 0


def cmd_explain(settings: Settings, args: argparse.Namespace) -> int:
    from bot.match.matching import explain
    from bot.match.rules import load_watchlists

    watchlists = load_watchlists(settings.rules_dir)
    text = " ".join(args.text)
    if len(args.text) == 2 and all(a.isdigit() for a in args.text):
        return explain_pair(settings, watchlists, int(args.text[0]), int(args.text[1]))
    if text.isdigit() and settings.db_path.exists():
        from bot.store import Store

        item = Store(settings.db_path).items.get(int(text))
        if item is None:
            print(f"No stored item with id {text} in {settings.db_path}.", file=sys.stderr)
            return 1
        print(f"item {item.id} from {item.feed}: {item.title}")
        stored = ", ".join(sorted({f"{h.entity}/{h.list or '-'}" for h in item.hits})) or "none"
        print(f"stored hits: {stored}")
        # Title and summary are matched as the pipeline does: title first, then summary.
        print(explain(item.title + "\n" + item.summary, watchlists))
        return 0
    print(explain(text, watchlists))
    return 0


def explain_pair(settings: Settings, watchlists: object, first: int, second: int) -> int:
    """`newsbot explain ID ID`: are two stored items one story, and the evidence either way."""
    from bot.render.terminal import story_evidence
    from bot.store import Store
    from bot.stories.events import StoryProfile, same_event
    from bot.stories.forms import EventForm, event_form
    from bot.stories.keys import story_keys, title_form, title_similarity
    from bot.stories.lexicon import build_lexicon

    if not settings.db_path.exists():
        print(f"No database at {settings.db_path} yet.", file=sys.stderr)
        return 1
    store = Store(settings.db_path)
    items = [store.items.get(first), store.items.get(second)]
    for wanted, item in zip((first, second), items, strict=True):
        if item is None:
            print(f"No stored item with id {wanted} in {settings.db_path}.", file=sys.stderr)
            return 1
    a, b = sorted(items, key=lambda i: (i.published or i.first_seen, i.id))  # type: ignore[union-attr]
    lexicon = None

    def form_of(item: object) -> tuple[EventForm | None, bool]:
        nonlocal lexicon
        stored = store.events.form(item.id)  # type: ignore[attr-defined]
        if stored is not None:
            return stored[1], True
        if not any(h.list for h in item.hits):  # type: ignore[attr-defined]
            return None, False
        lexicon = lexicon or build_lexicon(watchlists)
        at = int((item.published or item.first_seen).timestamp())  # type: ignore[attr-defined]
        return event_form(item.title, item.summary, item.lang, item.hits, at, lexicon), False  # type: ignore[attr-defined]

    form_a, _ = form_of(a)
    form_b, _ = form_of(b)
    verdict = None
    if form_a is not None and form_b is not None:
        with store.db.lock:
            members = store.events.story_forms(store.db.conn, a.story_id or -1, 200)  # type: ignore[union-attr]
        members = [m for m in members if m.at <= form_b.at and m != form_b] or [form_a]
        idf = store.events.idf(store.db.conn)
        verdict = same_event(form_b, StoryProfile.of(members, idf), idf)
    guids = {r["id"]: r["guid"] for r in store.db.rows(
        "SELECT id, guid FROM items WHERE id IN (?, ?)", [a.id, b.id])}  # type: ignore[union-attr]
    keys_a, keys_b = (story_keys(i.title, link=i.link, guid=guids.get(i.id))  # type: ignore[union-attr, arg-type]
                      for i in (a, b))
    print(story_evidence(
        a, b, verdict=verdict,
        title_similarity=title_similarity(title_form(a.title), title_form(b.title)),  # type: ignore[union-attr]
        shared_keys=sorted(set(keys_a.exact) & set(keys_b.exact)),
    ))
    store.close()
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.match.matching import match_item
    from bot.match.rules import load_watchlists

    since = _since(args.since, "replay")
    if since is None:
        return 2
    watchlists = load_watchlists(settings.rules_dir)
    store = _existing_store(settings)
    if store is None:
        return 0
    items = store.items.since(since)
    changes = {"new": 0, "lost": 0, "changed": 0}
    for item in items:
        was = {(h.entity, h.list) for h in item.hits if h.list}
        now = {(h.entity, h.list) for h in match_item(item.title, item.summary, watchlists) if h.list}
        if was == now:
            continue
        kind = "new" if not was else "lost" if not now else "changed"
        changes[kind] += 1
        if args.json:
            print(json.dumps({"item_id": item.id, "feed": item.feed, "title": item.title,
                              "change": kind, "was": sorted(map(list, was)),
                              "now": sorted(map(list, now))}, ensure_ascii=False))
        else:
            fmt = lambda pairs: ", ".join(f"{e}/{li}" for e, li in sorted(pairs)) or "no alert"  # noqa: E731
            print(f"{kind.upper():8} item {item.id} [{item.feed}] {item.title}\n"
                  f"         was: {fmt(was)}\n         now: {fmt(now)}")
    print(f"replayed {len(items)} items since {since:%Y-%m-%d %H:%M} UTC: {changes['new']} would "
          f"newly alert, {changes['lost']} would no longer alert, {changes['changed']} change "
          "entities or lists", file=sys.stderr)
    return 0


def cmd_recent(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render.terminal import alert_json, format_alert

    store = _existing_store(settings)
    if store is None:
        return 0
    items = store.stories.recent(max(1, args.n), list_id=args.list_id, entity=args.entity)
    names = _entity_names(settings)
    for item in items:
        print(alert_json(item) if args.json else format_alert(item, names) + "\n")
    if not items and not args.json:
        print("No matched items yet.", file=sys.stderr)
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
    store = _existing_store(settings)
    if store is None:
        return 1
    entities = [e.lower() for e in args.entity]
    trend = period_trend(
        lambda a, b: store.stories.entity_days(a, b, list_id=args.list_id, entities=entities),
        days=days, now=datetime.now(UTC), entities=entities, name=_entity_names(settings))
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


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:

    from bot.render.export import export_csv, export_jsonl

    since = _since(args.since, "export")
    if since is None:
        return 2
    store = _existing_store(settings)
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


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.render.terminal import alert_json, format_alert
    from bot.store.search import SearchError

    store = _existing_store(settings)
    if store is None:
        return 0
    query = " ".join(args.query)
    try:
        items = store.search.find(query, max(1, args.n), now=datetime.now(UTC))
    except SearchError as exc:
        print(f"newsbot search: {exc}", file=sys.stderr)
        return 2
    names = _entity_names(settings)
    for item in items:
        print(alert_json(item) if args.json else format_alert(item, names) + "\n")
    if not items and not args.json:
        print(f"Nothing stored matches {query}.", file=sys.stderr)
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
    store = _existing_store(settings)
    if store is None:
        rows = []
    else:
        rows = store.feeds.health(feeds)
    print(health_json(rows) if args.json else health_table(rows))
    return 0


def _since(text: str, command: str) -> datetime | None:
    """Now minus a --since duration ("30d"); None after saying what is wrong."""
    from datetime import UTC, datetime, timedelta

    from bot.config import parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        print(f"newsbot {command}: --since: {exc} (e.g. --since 30d)", file=sys.stderr)
        return None


def _existing_store(settings: Settings) -> Store | None:
    from bot.store import Store

    if not settings.db_path.exists():
        print(f"No database at {settings.db_path} yet: run `newsbot poll` or `newsbot run` first.",
              file=sys.stderr)
        return None
    return Store(settings.db_path)


def _entity_names(settings: Settings) -> Callable[[str], str]:
    from bot.match.rules import load_watchlists

    try:
        watchlists = load_watchlists(settings.rules_dir)
    except ConfigError:
        return lambda entity_id: entity_id
    return lambda entity_id: (getattr(watchlists.entity(entity_id), "name", None) or entity_id)


COMMANDS = {
    "run": cmd_run,
    "poll": cmd_poll,
    "check": cmd_check,
    "match": cmd_match,
    "explain": cmd_explain,
    "recent": cmd_recent,
    "search": cmd_search,
    "export": cmd_export,
    "trends": cmd_trends,
    "replay": cmd_replay,
    "status": cmd_status,
}

