"""Telegram messages as pure functions: alerts and command replies, in HTML with a plain twin.

Everything that comes from a feed is escaped; the only markup is ours. Every message stays
within Telegram's 4,096 characters as Telegram counts them (UTF-16 code units of the text
after entity parsing): we measure the visible text while we build the markup, and cut feed
text (never a tag or an entity) to fit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
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
    """A message ready to send: Telegram HTML, its plain-text fallback, optional buttons."""

    html: str
    plain: str
    buttons: tuple[tuple[Button, ...], ...] = ()


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


class _Builder:
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


def _spans(hits: Iterable[Hit], field: str, text: str, shown: int) -> list[tuple[int, int]]:
    """Hit spans of one field that lie (at least partly) inside the shown prefix."""
    spans = []
    for h in hits:
        if h.field == field and 0 <= h.start < h.end <= len(text) and h.start < shown:
            spans.append((h.start, min(h.end, shown)))
    return spans


def _field(b: _Builder, text: str, hits: Sequence[Hit], field: str, limit: int) -> None:
    """Add cut, escaped feed text with its hit spans in bold."""
    shown = cut(text, limit)
    truncated = shown != text
    body = shown[: -1] if truncated else shown
    b.add(highlight(body, _spans(hits, field, text, len(body))), body)
    if truncated:
        b.text(ELLIPSIS)


# ---------------------------------------------------------------------------- alerts

def alert_tags(hits: Sequence[Hit], watchlists: WatchlistsLike | None) -> tuple[list[str], list[str]]:
    """(list ids, entity display names) of listed hits, in first-seen order."""
    lists: list[str] = []
    names: list[str] = []
    for h in hits:
        if not h.list:
            continue
        if h.list not in lists:
            lists.append(h.list)
        info = watchlists.entity(h.entity) if watchlists is not None else None
        name = info.name if info is not None else h.entity
        if name not in names:
            names.append(name)
    return lists, names


def render_alert(item: ItemLike, hits: Sequence[Hit], watchlists: WatchlistsLike | None, *,
                 feed_title: str | None = None) -> RenderedMessage:
    """One alert: tags, linked title, source and time, a short summary, matched words bold."""
    lists, names = alert_tags(hits, watchlists)
    b = _Builder()
    tags = " ".join(hashtag(x) for x in lists)
    who = cut(", ".join(names), 300)
    if tags or who:
        b.add(esc(tags), tags)
        if who:
            b.add(f"{' · ' if tags else ''}<b>{esc(who)}</b>", f"{' · ' if tags else ''}{who}")
        b.text("\n")
    title = clean(item.title) or "(untitled)"
    link = safe_url(item.link)
    if link:
        b.add(f'<a href="{esc(link)}">', "")
        _field(b, title, hits, "title", TITLE_CHARS)
        b.add("</a>", "")
    else:
        _field(b, title, hits, "title", TITLE_CHARS)
    source = cut(clean(feed_title or item.feed), 100)
    b.add(f"\n<i>{esc(source)}</i> · {esc(when(item.published or item.first_seen))}",
          f"\n{source} · {when(item.published or item.first_seen)}")
    if link:
        # Plain-text fallback has no anchor: show the URL itself.
        b.plain.append(f"\n{link}")
        b.length += tg_len(link) + 1
    summary = clean(item.summary)
    if summary:
        b.text("\n\n")
        _field(b, summary, hits, "summary", max(0, min(SUMMARY_CHARS, b.room() - 8)))
    return b.build()


# ---------------------------------------------------------------------------- replies

def _item_line(b: _Builder, n: int, item: ItemLike, hits: Sequence[Hit],
               watchlists: WatchlistsLike | None, title_chars: int) -> None:
    lists, names = alert_tags(hits, watchlists)
    b.text(f"{n}. ")
    title = clean(item.title) or "(untitled)"
    link = safe_url(item.link)
    if link:
        b.add(f'<a href="{esc(link)}">', "")
    _field(b, title, hits, "title", title_chars)
    if link:
        b.add("</a>", "")
    meta = f"\n   {cut(clean(item.feed), 60)} · {when(item.published or item.first_seen)}"
    if names:
        meta += " · " + cut(", ".join(names), 80)
    b.text(meta + "\n")


def render_items(heading: str, items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                 watchlists: WatchlistsLike | None, *, empty: str) -> RenderedMessage:
    """A numbered list of items (for /recent and /search), fitted into one message."""
    b = _Builder()
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    if not items:
        b.text(empty)
        return b.build()
    # Share the room between the items so all of them fit, however long the titles.
    per_item = max(40, min(TITLE_CHARS, (MAX_CHARS - 200) // len(items) - 110))
    for n, (item, hits) in enumerate(zip(items, hits_of, strict=True), start=1):
        before = (list(b.html), list(b.plain), b.length)
        _item_line(b, n, item, hits, watchlists, per_item)
        if b.length > MAX_CHARS - 40:
            b.html, b.plain, b.length = before
            b.text(f"… and {len(items) - n + 1} more")
            break
    return b.build()


def render_recent(items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                  watchlists: WatchlistsLike | None, *, scope: str | None = None) -> RenderedMessage:
    """The /recent reply: latest matched items, newest first."""
    heading = f"Latest {len(items)} matched item{'s' if len(items) != 1 else ''}"
    if scope:
        heading += f" for {scope}"
    return render_items(heading, items, hits_of, watchlists,
                        empty="Nothing matched yet. Alerts will appear here as feeds are polled.")


def render_search(words: str, items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                  watchlists: WatchlistsLike | None) -> RenderedMessage:
    """The /search reply."""
    return render_items(f"Search: {cut(clean(words), 100)}", items, hits_of, watchlists,
                        empty="No stored item contains all of these words.")


def _lists_lines(watchlists: WatchlistsLike) -> list[tuple[str, str, str | None]]:
    """(html, plain, list id when the line heads a list) for every list and entity."""
    lines: list[tuple[str, str, str | None]] = []
    for wl in watchlists.lists:
        head = f"{wl.id} — {wl.title} ({len(wl.entities)})"
        lines.append((f"\n<b>{esc(wl.id)}</b> — {esc(wl.title)} ({len(wl.entities)})",
                      "\n" + head, wl.id))
        for e in wl.entities:
            zh = getattr(e, "zh", None) or ()
            zh_names = [zh] if isinstance(zh, str) else list(zh)[:2]
            zh_text = f" {', '.join(zh_names)}" if zh_names else ""
            plain = f"• {e.name}{zh_text} — {e.id}"
            lines.append((f"• {esc(e.name)}{esc(zh_text)} — <code>{esc(e.id)}</code>", plain, None))
    return lines


def render_lists(watchlists: WatchlistsLike, *, page: int = 0, per_page: int = 25,
                 follows: Sequence[str] = ()) -> RenderedMessage:
    """The /lists reply: watchlists and entities, paged, with follow buttons and navigation."""
    lines = _lists_lines(watchlists)
    pages = max(1, -(-len(lines) // per_page))
    page = min(max(0, page), pages - 1)
    chunk = lines[page * per_page:(page + 1) * per_page]
    b = _Builder()
    title = f"Watchlists (page {page + 1}/{pages})" if pages > 1 else "Watchlists"
    b.add(f"<b>{esc(title)}</b>\n", title + "\n")
    for markup, plain, _ in chunk:
        if b.room() < tg_len(plain) + 200:
            break
        b.add(markup + "\n", plain + "\n")
    following = "everything" if not follows else ", ".join(follows)
    b.text(f"\nYou follow: {cut(following, 300)}\n/follow <list|entity> · /unfollow <list|entity>")
    rows: list[tuple[Button, ...]] = []
    for _, _, list_id in chunk:
        if list_id is None:
            continue
        if list_id in follows:
            rows.append((Button(f"✓ Unfollow {list_id}", f"unfollow:{list_id}:{page}"[:64]),))
        else:
            rows.append((Button(f"Follow {list_id}", f"follow:{list_id}:{page}"[:64]),))
    nav = []
    if page > 0:
        nav.append(Button("◀ Prev", f"lists:{page - 1}"))
    if page < pages - 1:
        nav.append(Button("Next ▶", f"lists:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    return b.build(tuple(rows))


def render_status(health: Sequence[HealthLike], *, last_cycle: datetime | None,
                  now: datetime) -> RenderedMessage:
    """The /status reply: how many feeds are ok or failing, last cycle, oldest failure."""
    failing = [h for h in health if h.consecutive_errors > 0]
    never = [h for h in health if h.last_ok is None and h.consecutive_errors == 0]
    ok = len(health) - len(failing) - len(never)
    b = _Builder()
    b.add("<b>Feed status</b>\n", "Feed status\n")
    b.text(f"{len(health)} feeds: {ok} ok, {len(failing)} failing, {len(never)} not polled yet\n")
    b.text(f"Last cycle: {when(last_cycle)}" + (f" ({_ago(last_cycle, now)})" if last_cycle else "")
           + "\n")
    if failing:
        oldest = min(failing, key=lambda h: (h.last_ok or datetime.min.replace(tzinfo=UTC)))
        since = f"last ok {when(oldest.last_ok)}" if oldest.last_ok else "never ok"
        b.text(f"Oldest failure: {cut(oldest.name, 80)} ({since})\n")
        b.text("\nFailing:\n")
        worst = sorted(failing, key=lambda h: -h.consecutive_errors)
        for n, h in enumerate(worst):
            line = (f"• {cut(h.name, 60)} — {h.consecutive_errors}× "
                    f"{cut(clean(h.last_error) or 'error', 120)}\n")
            if b.room() < tg_len(line) + 40:
                b.text(f"… and {len(worst) - n} more")
                break
            b.text(line)
    return b.build()


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def render_stats(stats: Mapping[str, int], *, queue: Mapping[str, int] | None = None) -> RenderedMessage:
    """The /stats reply (admins): subscribers, items, alerts sent, queue."""
    s = dict(stats)
    q = dict(queue or {})
    lines = [
        f"Subscribers: {s.get('active_subscribers', 0)} active of {s.get('subscribers', 0)}",
        f"Items: {s.get('items', 0)} stored, {s.get('matched_items', 0)} matched",
        f"Alerts: {s.get('alerts', 0)}; deliveries sent {s.get('sent', 0)}, "
        f"pending {s.get('pending', 0)}, failed {s.get('failed', 0)}",
    ]
    if q:
        lines.append("Worker: " + ", ".join(f"{k} {v}" for k, v in q.items()))
    b = _Builder()
    b.add("<b>Stats</b>\n", "Stats\n")
    b.text("\n".join(lines))
    return b.build()


COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Subscribe this chat to alerts"),
    ("stop", "Unsubscribe this chat"),
    ("recent", "Latest matched items: /recent [n] [list|entity]"),
    ("search", "Search stored items: /search <words>"),
    ("lists", "Watchlists and their entities"),
    ("follow", "Receive only a list or entity: /follow <list|entity>"),
    ("unfollow", "Stop following a list or entity"),
    ("status", "Feed health"),
    ("help", "What this bot does"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("reload", "Re-read rules and feeds (admins)"),
    ("stats", "Subscribers, items, alerts, queue (admins)"),
)


def render_help(*, is_admin: bool = False) -> RenderedMessage:
    """The /help reply."""
    b = _Builder()
    b.add("<b>newsbot</b> — alerts on China's generative-AI industry from news feeds.\n\n",
          "newsbot — alerts on China's generative-AI industry from news feeds.\n\n")
    for name, text in COMMANDS + (ADMIN_COMMANDS if is_admin else ()):
        b.text(f"/{name} — {text}\n")
    return b.build()


def render_start(*, new: bool, follows: Sequence[str], lists: Sequence[str]) -> RenderedMessage:
    """The /start reply: what this chat will receive and how to change it."""
    b = _Builder()
    b.add("<b>Subscribed.</b> " if new else "<b>Already subscribed.</b> ",
          "Subscribed. " if new else "Already subscribed. ")
    scope = ("every matched item of every watchlist" if not follows
             else "items about " + ", ".join(follows))
    b.text(f"This chat will receive an alert for {cut(scope, 500)}, "
           "as soon as a feed publishes it.\n")
    if lists:
        b.text(f"Watchlists: {cut(', '.join(lists), 500)}.\n")
    b.text("Narrow it with /follow <list|entity> (see /lists), widen it with /unfollow; "
           "/recent shows the latest items; /stop ends the alerts; /help lists everything.")
    return b.build()


def render_notice(html_text: str) -> RenderedMessage:
    """An admin notice that is already Telegram HTML (ours): add its plain twin, fit it."""
    shown = html.unescape(re.sub(r"<[^>]*>", "", html_text))
    if tg_len(shown) <= MAX_CHARS:
        return RenderedMessage(html_text, shown)
    # Too long to cut safely as markup: send it as cut, escaped plain text.
    short = cut(shown, MAX_CHARS)
    return RenderedMessage(esc(short), short)


def plain(text: str) -> RenderedMessage:
    """A short reply without markup (still safe to send as HTML)."""
    shown = cut(text, MAX_CHARS)
    return RenderedMessage(esc(shown), shown)
