"""Asking the rules why: `match`, `explain`, `replay`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.shared import existing_store, since_arg
from bot.settings import Settings


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Add this module's subcommands; return their handlers by name."""
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
    return {"match": cmd_match, "explain": cmd_explain, "replay": cmd_replay}


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

    since = since_arg(args.since, "replay")
    if since is None:
        return 2
    watchlists = load_watchlists(settings.rules_dir)
    store = existing_store(settings)
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
