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
from bot.render.i18n import EN, N_, Tr
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

KIND_TITLES = {"deep-synthesis": N_("Deep-synthesis algorithm filings"),
               "genai": N_("Generative-AI service filings")}
# room kept for the totals and tags after the companies
_TAIL = 200
_NAMES_CHARS = 600  # a company's algorithm names, at most


def _name(entity_id: str, watchlists: WatchlistsLike | None, tr: Tr = EN) -> str:
    return tr.name(watchlists.entity(entity_id) if watchlists else None, entity_id)


def by_entity(filings: Sequence[StoredFiling]) -> dict[str, list[StoredFiling]]:
    """Watched filings grouped by their filer's (first) entity, most filings first."""
    groups: dict[str, list[StoredFiling]] = {}
    for f in filings:
        if f.entities:
            groups.setdefault(f.entities[0], []).append(f)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def _what(f: StoredFiling, tr: Tr = EN) -> str:
    """An algorithm with its product: 文心一格图像生成算法 (文心一格)."""
    name = f.algorithm or f.product or tr._("(unnamed)")
    return f"{name} ({f.product})" if f.product and f.product not in name else name


def batch_heading(batch: StoredBatch, tr: Tr = EN) -> str:
    """Deep-synthesis algorithm filings · 第15批 · 2025-11."""
    kind = (tr._(KIND_TITLES[batch.kind]) if batch.kind in KIND_TITLES
            else tr._("{kind} filings").format(kind=batch.kind))
    parts = [kind, batch.label]
    if batch.date:
        parts.append(batch.date)
    return " · ".join(parts)


def totals(batch: StoredBatch, tr: Tr = EN) -> str:
    """412 algorithms, 380 companies."""
    if batch.kind == "deep-synthesis":
        things = tr.ngettext("{n} algorithm", "{n} algorithms", batch.filings)
    else:
        things = tr.ngettext("{n} service", "{n} services", batch.filings)
    companies = tr.ngettext("{n} company", "{n} companies", batch.filers)
    return tr._("{things}, {companies}").format(things=things.format(n=batch.filings),
                                                 companies=companies.format(n=batch.filers))


def _add_companies(b: Builder, filings: Sequence[StoredFiling],
                   watchlists: WatchlistsLike | None, room: int, tr: Tr = EN) -> None:
    """One line per watched company, cut politely when the message would overflow."""
    groups = by_entity(filings)
    for n, (entity_id, group) in enumerate(groups.items()):
        name = _name(entity_id, watchlists, tr)
        names = cut("; ".join(dict.fromkeys(_what(f, tr) for f in group)), _NAMES_CHARS)
        line = f"• {name} — {len(group)}: {names}\n"
        if b.length + tg_len(line) > room:
            left = len(groups) - n
            b.text(tr.ngettext("…and {n} more company", "…and {n} more companies", left)
                   .format(n=left) + "\n")
            return
        b.add(f"• <b>{esc(name)}</b> — {len(group)}: {esc(names)}\n", line)


def render_batch_alert(news: BatchNews, watchlists: WatchlistsLike | None,
                       tr: Tr = EN) -> RenderedMessage:
    """One chat's alert of a batch, in its language: its new filings by watched company,
    and the totals."""
    batch = news.batch
    b = Builder()
    heading = batch_heading(batch, tr)
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    if news.first:
        b.text(tr.ngettext("New batch from the CAC registry: {n} filing.",
                           "New batch from the CAC registry: {n} filings.", news.new)
               .format(n=news.new) + "\n")
    else:
        b.text(tr.ngettext("{n} more filing in this batch.", "{n} more filings in this batch.",
                           news.new).format(n=news.new) + "\n")
    watched = [f for f in news.filings if f.entities]
    if watched:
        b.text("\n" + tr._("Watched companies:") + "\n")
        _add_companies(b, watched, watchlists, MAX_CHARS - _TAIL, tr)
    else:
        b.text("\n" + tr._("No watched company among them.") + "\n")
    others = len({f.filer for f in news.filings if not f.entities})
    if others and watched:
        b.text(tr.ngettext("…and {n} other company.", "…and {n} other companies.", others)
               .format(n=others) + "\n")
    b.text("\n" + tr._("Batch totals: {totals}.").format(totals=totals(batch, tr)) + "\n")
    tag = FILING_LISTS.get(batch.kind)
    if tag:
        b.text(hashtag(tag))
    return b.build()


def render_filings_reply(filings: Sequence[StoredFiling], watchlists: WatchlistsLike | None, *,
                         entity: str | None = None, batch: StoredBatch | None = None,
                         tr: Tr = EN) -> RenderedMessage:
    """The /filings reply: an entity's latest filings, or the latest batch's watched filers."""
    b = Builder()
    if entity is not None:
        heading = tr._("Latest filings of {name}").format(name=_name(entity, watchlists, tr))
        b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
        if not filings:
            b.text(tr._("None stored yet."))
            return b.build()
        for n, f in enumerate(filings):
            line = (f"• {f.batch}{' · ' + f.date if f.date else ''} — {_what(f, tr)}"
                    f"{' · ' + f.role if f.role else ''}\n  {f.filer}"
                    f"{' · ' + f.number if f.number else ''}\n")
            if b.length + tg_len(line) > MAX_CHARS - 40:
                b.text(tr._("… and {n} more").format(n=len(filings) - n))
                break
            b.text(line)
        return b.build()
    if batch is None:
        b.text(tr._("No filing list stored yet. Operators add one to feeds.yaml (kind: filings) "
                    "or import it with `newsbot filings import`."))
        return b.build()
    heading = batch_heading(batch, tr)
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    b.text(tr._("Totals: {totals}.").format(totals=totals(batch, tr)) + "\n")
    watched = [f for f in filings if f.entities]
    if watched:
        b.text("\n" + tr._("Watched companies:") + "\n")
        _add_companies(b, watched, watchlists, MAX_CHARS - 40, tr)
    else:
        b.text("\n" + tr._("No watched company in this batch."))
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
