"""Filing-registry messages: a batch alert and the /filings reply (pure, Telegram HTML).

A batch alert names the batch and its date, then each watched company with the number of
its new filings and their algorithm and product names, then the batch's totals ("412
algorithms, 380 companies"). Whatever the batch's size it stays one message: companies that
do not fit are cut politely ("…and 12 more companies").
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.ingest.suggest import Suggestion
from bot.models import FILING_LISTS
from bot.render.text import (
    MAX_CHARS,
    Builder,
    RenderedMessage,
    WatchlistsLike,
    cut,
    esc,
    hashtag,
    tg_len,
)
from bot.store.filings import BatchNews, StoredBatch, StoredFiling

KIND_TITLES = {"deep-synthesis": "Deep-synthesis algorithm filings",
               "genai": "Generative-AI service filings"}
# room kept for the totals and tags after the companies
_TAIL = 200
_NAMES_CHARS = 600  # a company's algorithm names, at most


def _name(entity_id: str, watchlists: WatchlistsLike | None) -> str:
    entity = watchlists.entity(entity_id) if watchlists else None
    return entity.name if entity else entity_id


def by_entity(filings: Sequence[StoredFiling]) -> dict[str, list[StoredFiling]]:
    """Watched filings grouped by their filer's (first) entity, most filings first."""
    groups: dict[str, list[StoredFiling]] = {}
    for f in filings:
        if f.entities:
            groups.setdefault(f.entities[0], []).append(f)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def _what(f: StoredFiling) -> str:
    """An algorithm with its product: 文心一格图像生成算法 (文心一格)."""
    name = f.algorithm or f.product or "(unnamed)"
    return f"{name} ({f.product})" if f.product and f.product not in name else name


def batch_heading(batch: StoredBatch) -> str:
    """Deep-synthesis algorithm filings · 第15批 · 2025-11."""
    parts = [KIND_TITLES.get(batch.kind, batch.kind + " filings"), batch.label]
    if batch.date:
        parts.append(batch.date)
    return " · ".join(parts)


def totals(batch: StoredBatch) -> str:
    """412 algorithms, 380 companies."""
    noun = "algorithm" if batch.kind == "deep-synthesis" else "service"
    return (f"{batch.filings} {noun}{'s' if batch.filings != 1 else ''}, "
            f"{batch.filers} compan{'ies' if batch.filers != 1 else 'y'}")


def _add_companies(b: Builder, filings: Sequence[StoredFiling],
                   watchlists: WatchlistsLike | None, room: int) -> None:
    """One line per watched company, cut politely when the message would overflow."""
    groups = by_entity(filings)
    for n, (entity_id, group) in enumerate(groups.items()):
        name = _name(entity_id, watchlists)
        names = cut("; ".join(dict.fromkeys(_what(f) for f in group)), _NAMES_CHARS)
        line = f"• {name} — {len(group)}: {names}\n"
        if b.length + tg_len(line) > room:
            b.text(f"…and {len(groups) - n} more compan{'ies' if len(groups) - n > 1 else 'y'}\n")
            return
        b.add(f"• <b>{esc(name)}</b> — {len(group)}: {esc(names)}\n", line)


def render_batch_alert(news: BatchNews, watchlists: WatchlistsLike | None) -> RenderedMessage:
    """One chat's alert of a batch: its new filings by watched company, and the totals."""
    batch = news.batch
    b = Builder()
    heading = batch_heading(batch)
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    if news.first:
        b.text(f"New batch from the CAC registry: {news.new} filing"
               f"{'s' if news.new != 1 else ''}.\n")
    else:
        b.text(f"{news.new} more filing{'s' if news.new != 1 else ''} in this batch.\n")
    watched = [f for f in news.filings if f.entities]
    if watched:
        b.text("\nWatched companies:\n")
        _add_companies(b, watched, watchlists, MAX_CHARS - _TAIL)
    else:
        b.text("\nNo watched company among them.\n")
    others = len({f.filer for f in news.filings if not f.entities})
    if others and watched:
        b.text(f"…and {others} other compan{'ies' if others != 1 else 'y'}.\n")
    b.text(f"\nBatch totals: {totals(batch)}.\n")
    tag = FILING_LISTS.get(batch.kind)
    if tag:
        b.text(hashtag(tag))
    return b.build()


def render_filings_reply(filings: Sequence[StoredFiling], watchlists: WatchlistsLike | None, *,
                         entity: str | None = None,
                         batch: StoredBatch | None = None) -> RenderedMessage:
    """The /filings reply: an entity's latest filings, or the latest batch's watched filers."""
    b = Builder()
    if entity is not None:
        name = _name(entity, watchlists)
        heading = f"Latest filings of {name}"
        b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
        if not filings:
            b.text("None stored yet.")
            return b.build()
        for n, f in enumerate(filings):
            line = (f"• {f.batch}{' · ' + f.date if f.date else ''} — {_what(f)}"
                    f"{' · ' + f.role if f.role else ''}\n  {f.filer}"
                    f"{' · ' + f.number if f.number else ''}\n")
            if b.length + tg_len(line) > MAX_CHARS - 40:
                b.text(f"…and {len(filings) - n} more")
                break
            b.text(line)
        return b.build()
    if batch is None:
        b.text("No filing list stored yet. Operators add one to feeds.yaml (kind: filings) or "
               "import it with `newsbot filings import`.")
        return b.build()
    heading = batch_heading(batch)
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    b.text(f"Totals: {totals(batch)}.\n")
    watched = [f for f in filings if f.entities]
    if watched:
        b.text("\nWatched companies:\n")
        _add_companies(b, watched, watchlists, MAX_CHARS - 40)
    else:
        b.text("\nNo watched company in this batch.")
    return b.build()


def render_suggestions(suggestions: Sequence[Suggestion], list_id: str) -> str:
    """Suggested entities as YAML to paste under `entities:` of rules/<list>.yaml: id, name,
    aliases with the legal name; a comment says what each filed."""
    if not suggestions:
        return "# No unwatched filer has filed more than once.\n"
    plural = "s" if len(suggestions) != 1 else ""
    lines = [
        (f"# {len(suggestions)} filer{plural} with several filings that no watchlist names. "
         f"Paste under `entities:` of rules/{list_id}.yaml,"),
        ("# give each a readable id, check that its name is not an ordinary word, then run "
         "`newsbot check`."),
    ]
    for s in suggestions:
        filed = cut("; ".join(s.algorithms), 160)
        lines.append(f"  # {s.filings} filings: {filed}")
        lines.append(f"  - id: {s.id}")
        lines.append(f"    name: {_yaml(s.name)}")
        aliases = [s.legal_name] if s.legal_name != s.name else []
        lines.append(f"    aliases: [{', '.join(_yaml(a) for a in aliases)}]")
    return "\n".join(lines) + "\n"


def _yaml(text: str) -> str:
    """A YAML scalar that reads back as `text` (a JSON string is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)
