"""A filing list as a source: its body read (bot/ingest/filings.py), its filers matched, its
batch named, and all of it recorded with its alerts (bot/store/filings.py).

The pipeline hands a polled filing list (`kind: filings` in feeds.yaml) to `FilingIntake`
after the fetcher got a new body (304s and unchanged bodies never reach it); `newsbot filings
import` calls `prepare` on a file's bytes. Which batch a list is: feeds.yaml's (or the
command's) `batch`, else the 第N批 its title says, else the month its title says, else the
source's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.ingest.filings import FilingTable, batch_label, parse_filings
from bot.match.matching import match_item
from bot.match.watchlists import Watchlists
from bot.models import FILING_LISTS, Feed, FetchResult, FilingSource, Hit
from bot.store import BatchInfo, FilingOutcome, MatchedFiling, Store
from bot.store.feeds import FetchRecord
from bot.store.filings import Compose


@dataclass(frozen=True, slots=True)
class PreparedList:
    """A filing list ready to record: its batch, its filings with their filers' hits."""

    batch: BatchInfo
    filings: tuple[MatchedFiling, ...]
    table: FilingTable


def prepare(body: bytes, name: str, source: FilingSource, watchlists: Watchlists, *,
            origin: str, content_type: str | None = None) -> PreparedList:
    """Read and match a filing list (pure); raises FilingListError naming `name`."""
    table = parse_filings(body, name, source.format, content_type)
    label = batch_label(source.batch) if source.batch else (table.batch or table.date or origin)
    batch = BatchInfo(kind=source.kind, label=label, source=origin,
                      date=source.date or table.date, title=table.title)
    list_id = FILING_LISTS.get(source.kind, "")
    matched = tuple(MatchedFiling(f, tuple(filer_hits(f.filer, list_id, watchlists)))
                    for f in table.filings)
    return PreparedList(batch, matched, table)


def filer_hits(filer: str, list_id: str, watchlists: Watchlists) -> list[Hit]:
    """The watched entities a filer's name names, as hits of the filing's list.

    The filer's name goes through the news matcher (folded: traditional characters, width,
    spaces). A filing of a kind satisfies its list's topic by what it is (a deep-synthesis
    filing is the `deepfake` list's subject), so the topic is not looked for in the name:
    each entity found gets a hit of `list_id` when the entity is on that list, else of no
    list. News matching is untouched.
    """
    lists = watchlists.tables.entity_lists
    out: dict[str, Hit] = {}
    for h in match_item(filer, "", watchlists):
        if h.entity in out:
            continue
        listed = list_id if list_id in lists.get(h.entity, ()) else ""
        out[h.entity] = Hit(h.entity, listed, h.alias, "filer", h.start, h.end, h.score)
    return sorted(out.values(), key=lambda h: h.entity)


class FilingIntake:
    """Records polled filing lists: parse, match, store and alert in one transaction."""

    def __init__(self, store: Store, watchlists: Callable[[], Watchlists],
                 compose: Compose | None) -> None:
        """`watchlists` is read at each poll (a reload applies); `compose` renders a batch
        alert (None: store the filings, alert nobody)."""
        self.store = store
        self.watchlists = watchlists
        self.compose = compose

    def record(self, feed: Feed, result: FetchResult, fetch: FetchRecord, now: datetime, *,
               alert: bool) -> FilingOutcome:
        """Record a filing list's new body; raises FilingListError (nothing recorded)."""
        source = feed.filing or FilingSource()
        content_type = result.headers.get("content-type")
        prepared = prepare(result.body or b"", result.final_url or feed.url,
                           source, self.watchlists(), origin=feed.name,
                           content_type=content_type)
        return self.store.filings.record(prepared.batch, prepared.filings, now, alert=alert,
                                         compose=self.compose, fetch=fetch)
