"""Plain values passed between the modules. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Backfill = Literal["silent", "alert"]


FilingKind = Literal["deep-synthesis", "genai"]
FILING_KINDS: tuple[FilingKind, ...] = ("deep-synthesis", "genai")
# The watchlist a kind of filing belongs to: a deep-synthesis filing IS the `deepfake` list's
# subject; generative-AI service filings are `llm` news (../shared/eval/README.md).
FILING_LISTS: dict[str, str] = {"deep-synthesis": "deepfake", "genai": "llm"}


@dataclass(frozen=True, slots=True)
class FilingSource:
    """What feeds.yaml says of a filing list (`kind: filings`): the kind of filings it holds,
    and optionally its batch label, date and format (else read from the file)."""

    kind: FilingKind = "deep-synthesis"
    batch: str | None = None  # "第15批"; default: the file's title, else the feed's name
    date: str | None = None  # ISO date "2025-11-06"; default: the file's title
    format: str | None = None  # xlsx | csv | html; default: sniffed from the body


@dataclass(frozen=True, slots=True)
class Filing:
    """One row of a filing list, cleaned (NFKC, spaces collapsed); `row` is its line in the file."""

    filer: str
    algorithm: str = ""
    role: str = ""
    product: str = ""
    purpose: str = ""
    number: str = ""
    note: str = ""
    row: int = 0


@dataclass(frozen=True, slots=True)
class Feed:
    """One entry of feeds.yaml, validated. Durations are seconds. `filing` is set for a
    filing list (`kind: filings`), polled like a feed but read as a table of filings."""

    name: str
    url: str
    interval: float = 600.0
    timeout: float = 20.0
    lang: str | None = None
    tags: tuple[str, ...] = ()
    backfill: Backfill = "silent"
    line: int = 0  # line in feeds.yaml, for error messages
    filing: FilingSource | None = None


@dataclass(frozen=True, slots=True)
class Validators:
    """What we remember of a feed's last response to make the next GET conditional."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


FetchStatus = Literal["ok", "not_modified", "unchanged", "error"]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Outcome of one GET. `status`:
    ok            a new body to parse;
    not_modified  the server answered 304;
    unchanged     200, but the body hash equals the last one (no parsing needed);
    error         `error` says why in one line (the feed's recorded error).
    """

    status: FetchStatus
    url: str
    final_url: str | None = None
    http_status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    validators: Validators = Validators()
    error: str | None = None
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class Item:
    """One normalized feed entry: plain text, absolute canonical link, UTC time."""

    key: str
    feed: str
    title: str
    summary: str
    link: str | None
    published: datetime | None
    lang: str | None
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What parse_feed recovered from a body. `bozo` is the parser's complaint, if any."""

    items: list[Item]
    title: str | None = None
    lang: str | None = None
    bozo: str | None = None
    ttl: int | None = None  # RSS <ttl>, minutes


@dataclass(frozen=True, slots=True)
class Hit:
    """Why an item matched: which entity of which list, through which alias, where."""

    entity: str
    list: str
    alias: str
    field: str  # "title" or "summary"
    start: int
    end: int
    score: float = 100.0

    def as_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "list": self.list,
            "alias": self.alias,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }
