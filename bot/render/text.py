"""What every message is made of: the shapes rendering reads, and text primitives.

Telegram messages are pure functions (alerts.py, replies.py, digest.py), in HTML with a
plain twin.

Everything that comes from a feed is escaped; the only markup is ours. Every message stays
within Telegram's 4,096 characters as Telegram counts them (UTF-16 code units of the text
after entity parsing): we measure the visible text while we build the markup, and cut feed
text (never a tag or an entity) to fit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.models import Hit

MAX_CHARS = 4096
TITLE_CHARS = 300
SUMMARY_CHARS = 600
ELLIPSIS = "…"


# ---------------------------------------------------------------------------- shapes we read

class ItemLike(Protocol):
    """What rendering needs of a stored item."""

    feed: str
    title: str
    summary: str
    link: str | None
    published: datetime | None
    first_seen: datetime
    lang: str | None  # a source in another language is marked in "+N sources"


class SourceLike(Protocol):
    """Another outlet of the same story."""

    feed: str
    title: str
    link: str | None
    lang: str | None


class EntityLike(Protocol):
    id: str
    name: str


class ListLike(Protocol):
    id: str
    title: str
    entities: Sequence[EntityLike]


class WatchlistsLike(Protocol):
    lists: Sequence[ListLike]

    def entity(self, entity_id: str) -> EntityLike | None: ...


class HealthLike(Protocol):
    name: str
    last_ok: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_errors: int


@dataclass(frozen=True, slots=True)
class Button:
    """An inline keyboard button: label and callback data (≤ 64 bytes)."""

    text: str
    data: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message ready to send: Telegram HTML, its plain-text fallback, optional buttons;
    with a `photo` (PNG bytes) the text is the photo's caption (at most 1,024 characters)."""

    html: str
    plain: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: bytes | None = None


# ---------------------------------------------------------------------------- text primitives

def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def cut(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` UTF-16 units, ending in '…' when shortened."""
    if tg_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    budget = limit - 1  # room for the ellipsis
    out: list[str] = []
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if size > budget:
            break
        out.append(ch)
        budget -= size
    return "".join(out).rstrip() + ELLIPSIS


def esc(text: str) -> str:
    """Escape feed text for Telegram HTML (text and attribute values alike)."""
    return html.escape(text, quote=True)


def clean(text: str | None) -> str:
    """Feed text on one line: control characters and line breaks become spaces.

    One character for one, so the matcher's hit offsets still point at the same words.
    """
    if not text:
        return ""
    return re.sub(r"[\x00-\x1f\x7f\u200b\u2028\u2029\ufeff]", " ", text)


def safe_url(url: str | None) -> str | None:
    """The link if it is an absolute http(s) URL, else None (no javascript: links)."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"(?i)^https?://[^\s<>\"]+$", url):
        return None
    return url


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escape `text`, wrapping the given (start, end) character spans in <b>."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out.append(esc(text[pos:start]))
        out.append(f"<b>{esc(text[start:end])}</b>")
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def when(moment: datetime | None) -> str:
    """A compact UTC time, or '-'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def hashtag(word: str) -> str:
    """A Telegram hashtag from a list or entity id (letters, digits and _ only)."""
    return "#" + (re.sub(r"\W+", "_", word).strip("_") or "tag")


class Builder:
    """Builds HTML and plain text side by side, tracking the visible length."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.plain: list[str] = []
        self.length = 0

    def add(self, markup: str, visible: str) -> None:
        self.html.append(markup)
        self.plain.append(visible)
        self.length += tg_len(visible)

    def text(self, visible: str) -> None:
        self.add(esc(visible), visible)

    def room(self) -> int:
        return MAX_CHARS - self.length

    def build(self, buttons: tuple[tuple[Button, ...], ...] = ()) -> RenderedMessage:
        return RenderedMessage("".join(self.html).strip(), "".join(self.plain).strip(), buttons)


def hit_spans(hits: Iterable[Hit], field: str, text: str, shown: int) -> list[tuple[int, int]]:
    """Hit spans of one field that lie (at least partly) inside the shown prefix."""
    spans = []
    for h in hits:
        if h.field == field and 0 <= h.start < h.end <= len(text) and h.start < shown:
            spans.append((h.start, min(h.end, shown)))
    return spans


def add_field(b: Builder, text: str, hits: Sequence[Hit], field: str, limit: int) -> None:
    """Add cut, escaped feed text with its hit spans in bold."""
    shown = cut(text, limit)
    truncated = shown != text
    body = shown[: -1] if truncated else shown
    b.add(highlight(body, hit_spans(hits, field, text, len(body))), body)
    if truncated:
        b.text(ELLIPSIS)
