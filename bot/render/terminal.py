"""Plain-text rendering for the terminal: alerts, the status table. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.store import FeedHealth, StoredItem
from bot.store.filings import FilingOutcome
from bot.stories.events import Verdict

EntityName = Callable[[str], str]


def when(moment: datetime | None) -> str:
    """A compact UTC time, or '-'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def format_alert(item: StoredItem, entity_name: EntityName, *, backfill: bool = False) -> str:
    """A new matched item, readable in a terminal: tags, title, source and time, link."""
    listed = [h for h in item.hits if h.list]
    lists = sorted({h.list for h in listed})
    entities = sorted({h.entity for h in listed})
    tags = " ".join(f"#{name}" for name in lists)
    names = ", ".join(entity_name(e) for e in entities)
    mark = " (backfill)" if backfill else ""
    lines = [
        f"[{tags}] {names}{mark}",
        f"  {item.title}",
        f"  {item.feed} · {when(item.published or item.first_seen)}",
    ]
    if item.link:
        lines.append(f"  {item.link}")
    return "\n".join(lines)


def format_followup(item: StoredItem) -> str:
    """A new source of a story already alerted: one follow-up line (and its link)."""
    line = f"  + also in {item.feed}: {item.title}"
    return line + (f"\n    {item.link}" if item.link else "")


def alert_json(item: StoredItem, *, alerted: bool | None = None) -> str:
    """One `poll --json` / `recent --json` line (the DESIGN.md contract); `alerted` (poll):
    whether the item was its story's alert, or joined a story alerted before."""
    return json.dumps(
        {
            "item_id": item.id,
            "feed": item.feed,
            "title": item.title,
            "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "entities": sorted({h.entity for h in item.hits if h.list}),
            "lists": item.lists,
            "hits": [h.as_dict() for h in item.hits if h.list],
            "backfill": item.backfill,
            "story_id": item.story_id,
            "sources": item.sources,
            **({} if alerted is None else {"alerted": alerted}),
        },
        ensure_ascii=False,
    )


def health_json(rows: Sequence[FeedHealth]) -> str:
    """`status --json`: one object per feed."""
    return json.dumps(
        [
            {
                "name": r.name,
                "url": r.url,
                "last_ok": r.last_ok.isoformat() if r.last_ok else None,
                "last_error": r.last_error,
                "last_error_at": r.last_error_at.isoformat() if r.last_error_at else None,
                "consecutive_errors": r.consecutive_errors,
                "items": r.items,
                "next_poll": r.next_poll.isoformat() if r.next_poll else None,
                "healthy": r.consecutive_errors == 0 and r.last_ok is not None,
                "health": r.health,
            }
            for r in rows
        ],
        ensure_ascii=False,
        indent=2,
    )


def _state(r: FeedHealth) -> str:
    if r.consecutive_errors:
        return "FAILING"
    if r.last_ok is None:
        # never answered: either not polled yet, or only failed while we were offline
        return "NO ANSWER" if r.last_error else "new"
    return "SILENT" if r.health == "stale" else "ok"


def health_table(rows: Sequence[FeedHealth]) -> str:
    """`status`: a fixed-width table, failing feeds with their last error underneath."""
    if not rows:
        return "No feeds configured."
    width = min(max(len(r.name) for r in rows), 32)
    header = f"{'feed':<{width}}  {'state':<9}  {'last ok':<20}  {'errors':>6}  {'items':>6}  next poll"
    out = [header, "-" * len(header)]
    for r in rows:
        state = _state(r)
        out.append(
            f"{r.name[:width]:<{width}}  {state:<9}  {when(r.last_ok):<20}  "
            f"{r.consecutive_errors:>6}  {r.items:>6}  {when(r.next_poll)}"
        )
        if state in ("FAILING", "NO ANSWER") and r.last_error:
            out.append(f"{'':<{width}}  └ {r.last_error} (since {when(r.last_error_at)})")
    states = [_state(r) for r in rows]
    failing = sum(1 for x in states if x in ("FAILING", "NO ANSWER"))
    out.append(f"{len(rows)} feeds: {states.count('ok')} ok, {failing} failing or unreachable, "
               f"{states.count('SILENT')} silent, {states.count('new')} not polled yet")
    return "\n".join(out)


def story_evidence(a: StoredItem, b: StoredItem, *, verdict: Verdict | None, title_similarity: float,
                   shared_keys: Sequence[str]) -> str:
    """`newsbot explain ID ID`: whether two stored items are one story, and why.

    `verdict` is bot.stories.events.same_event's for the later item against the earlier
    item's story (None when either item matched no watchlist: only URL/GUID keys and the
    title rule can join those)."""
    gap = ((b.published or b.first_seen) - (a.published or a.first_seen)).total_seconds() / 3600
    same = a.story_id is not None and a.story_id == b.story_id
    lines = [
        f"item {a.id} ({a.feed}, {when(a.published or a.first_seen)}, story {a.story_id}): {a.title}",
        f"item {b.id} ({b.feed}, {when(b.published or b.first_seen)}, story {b.story_id}): {b.title}",
        f"stored as: {'ONE story' if same else 'two stories'}; time gap {gap:.1f} h",
        f"shared URL/GUID keys: {', '.join(shared_keys) if shared_keys else 'none'}",
        f"title similarity: {title_similarity:.0f} / 100",
    ]
    if verdict is None:
        lines.append("event evidence: none (an item that matches no watchlist is not read as an "
                     "event)")
        return "\n".join(lines)
    ev = verdict.evidence
    lines.append(f"event verdict of item {b.id} against item {a.id}'s story: "
                 f"{'same happening' if verdict.same else 'another happening'} "
                 f"(score {verdict.score:.2f})")
    labels = [("subjects", "subjects of the later item"), ("shared_subjects", "shared subjects"),
              ("shared_products", "shared products/versions"), ("action", "what happened"),
              ("story_kinds", "the story's kind"), ("shared_numbers", "shared numbers"),
              ("text_cos", "text similarity (cosine)"),
              ("text_same_lang", "same-language wording"), ("parts", "score parts"),
              ("conflicts", "conflicts")]
    for key, label in labels:
        if key in ev and ev[key] not in (None, [], {}):
            value = ev[key]
            if isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            lines.append(f"  {label}: {value}")
    if ev.get("near_duplicate"):
        lines.append("  near-identical title: joins whatever else differs")
    return "\n".join(lines)


def format_filings(source: str, outcome: FilingOutcome, name: EntityName) -> str:
    """A filing list's new batch or filings as console lines (the console's batch alert)."""
    batch = outcome.batch
    head = (f"[{source}] CAC registry {batch.kind} {batch.label}"
            f"{' (' + batch.date + ')' if batch.date else ''}: {outcome.new} new filing"
            f"{'s' if outcome.new != 1 else ''}; batch totals {batch.filings} filings, "
            f"{batch.filers} filers")
    watched = ", ".join(f"{name(entity)} {n}" for entity, n in outcome.watched)
    return head + "\n  watched filers: " + (watched or "none") + "\n"
