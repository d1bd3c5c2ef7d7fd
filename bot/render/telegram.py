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
from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class SourceLike(Protocol):
    """Another outlet of the same story."""

    feed: str
    title: str
    link: str | None


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
                 feed_title: str | None = None,
                 sources: Sequence[SourceLike] = ()) -> RenderedMessage:
    """One alert: tags, linked title, source and time, a short summary, matched words bold.

    `sources` are the other outlets that carried the same story: "+N sources" with links.
    """
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
    more = _sources_block(sources)
    summary = clean(item.summary)
    if summary:
        b.text("\n\n")
        room = b.room() - 8 - (tg_len(more[1]) if more else 0)
        _field(b, summary, hits, "summary", max(0, min(SUMMARY_CHARS, room)))
    if more:
        b.add(*more)
    return b.build()


MAX_SOURCES_SHOWN = 8


def _sources_block(sources: Sequence[SourceLike]) -> tuple[str, str] | None:
    """ "+N sources: A, B, C" as (html, plain), the first few linked; None without sources."""
    if not sources:
        return None
    shown = sources[:MAX_SOURCES_SHOWN]
    html_parts, plain_parts = [], []
    for src in shown:
        name = cut(clean(src.feed), 60)
        link = safe_url(src.link)
        html_parts.append(f'<a href="{esc(link)}">{esc(name)}</a>' if link else esc(name))
        plain_parts.append(name)
    extra = len(sources) - len(shown)
    tail = f" and {extra} more" if extra else ""
    label = f"+{len(sources)} source{'s' if len(sources) > 1 else ''}: "
    return (f"\n\n<b>{esc(label)}</b>{', '.join(html_parts)}{esc(tail)}",
            f"\n\n{label}{', '.join(plain_parts)}{tail}")


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


# ---------------------------------------------------------------------------- digests

DIGEST_TITLE_CHARS = 200


class DigestItemLike(ItemLike, Protocol):
    """A held item as the digest reads it (bot.store.HeldItem); story fields are optional."""

    id: int
    hits: Sequence[Hit]


@dataclass(frozen=True, slots=True)
class _Story:
    """The items of one story in a digest; the first seen one stands for it."""

    items: tuple[DigestItemLike, ...]

    @property
    def lead(self) -> DigestItemLike:
        return self.items[0]

    @property
    def sources(self) -> int:
        # The store counts every feed that told the story so far (`sources`); the held items
        # alone are fewer, since a story's later copies raise no alert of their own.
        told = max((getattr(i, "sources", 1) for i in self.items), default=1)
        return max(len({i.feed for i in self.items}), told)

    @property
    def hits(self) -> list[Hit]:
        return [h for i in self.items for h in i.hits if h.list]


def digest_stories(items: Sequence[DigestItemLike]) -> list[_Story]:
    """Items grouped into stories (same story_id, else each item alone), first seen first."""
    groups: dict[tuple[str, int], list[DigestItemLike]] = {}
    for item in sorted(items, key=lambda i: (i.first_seen, i.id)):
        story = getattr(item, "story_id", None)
        key = ("story", story) if story is not None else ("item", item.id)
        groups.setdefault(key, []).append(item)
    return [_Story(tuple(g)) for g in groups.values()]


def _lead_entity(hits: Sequence[Hit], list_id: str) -> tuple[str, list[str]]:
    """The entity a story is filed under in one list and the list's other entities it names.

    The lead is the entity of the earliest title hit, else of the earliest summary hit.
    """
    mine = [h for h in hits if h.list == list_id]
    lead = min(mine, key=lambda h: (h.field != "title", h.start)).entity
    others: list[str] = []
    for h in mine:
        if h.entity != lead and h.entity not in others:
            others.append(h.entity)
    return lead, others


Section = tuple[str, list[tuple[str, list[tuple[_Story, list[str]]]]]]


def _digest_sections(stories: Sequence[_Story], watchlists: WatchlistsLike | None) -> list[Section]:
    """[(list id, [(entity id, [(story, other entities)])])] in watchlist order.

    A story appears once per list it matched, under its lead entity: grouped, yet never
    repeated within a list however many of the list's entities it names.
    """
    order: dict[str, int] = {}
    entity_order: dict[str, int] = {}
    for n, wl in enumerate(watchlists.lists if watchlists is not None else ()):
        order[wl.id] = n
        for m, e in enumerate(wl.entities):
            entity_order.setdefault(e.id, m)
    sections: dict[str, dict[str, list[tuple[_Story, list[str]]]]] = {}
    for story in stories:
        hits = story.hits
        for list_id in dict.fromkeys(h.list for h in hits):
            lead, others = _lead_entity(hits, list_id)
            sections.setdefault(list_id, {}).setdefault(lead, []).append((story, others))
    return [
        (list_id, sorted(entities.items(),
                         key=lambda kv: (entity_order.get(kv[0], len(entity_order)), kv[0])))
        for list_id, entities in sorted(sections.items(),
                                        key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]


def _entity_name(watchlists: WatchlistsLike | None, entity_id: str) -> str:
    info = watchlists.entity(entity_id) if watchlists is not None else None
    return info.name if info is not None else entity_id


def _list_title(watchlists: WatchlistsLike | None, list_id: str) -> str | None:
    for wl in watchlists.lists if watchlists is not None else ():
        if wl.id == list_id:
            return wl.title
    return None


def _local_time(moment: datetime, zone: tzinfo, now: datetime) -> str:
    """'14:05' on the chat's today, else '26 Nov 14:05', in the chat's time zone."""
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def _story_line(story: _Story, others: Sequence[str], watchlists: WatchlistsLike | None,
                zone: tzinfo, now: datetime) -> tuple[str, str]:
    """One story as a complete line (html, plain): no tag ever spans two lines."""
    b = _Builder()
    item = story.lead
    b.text("• ")
    title = clean(item.title) or "(untitled)"
    link = safe_url(item.link)
    hits = [h for h in item.hits if h.list]
    if link:
        b.add(f'<a href="{esc(link)}">', "")
    _field(b, title, hits, "title", DIGEST_TITLE_CHARS)
    if link:
        b.add("</a>", "")
    at = _local_time(item.published or item.first_seen, zone, now)
    meta = f" — {cut(clean(item.feed), 60)}, {at}"
    if story.sources > 1:
        meta += f" ({story.sources} sources)"
    if others:
        meta += " · also " + cut(", ".join(_entity_name(watchlists, e) for e in others), 120)
    b.add(f"<i>{esc(meta)}</i>\n", meta + "\n")
    return "".join(b.html), "".join(b.plain)


def render_digest(items: Sequence[DigestItemLike], watchlists: WatchlistsLike | None, *,
                  chat_tz: str | tzinfo, now: datetime) -> list[str]:
    """A chat's daily digest as Telegram HTML messages (an empty list when nothing was held).

    Grouped by list, then entity; one line per story (items sharing a story_id count once,
    with their number of sources). Each message stays within 4,096 characters: a long digest
    is split between lines, never inside a tag, and the list and entity being continued are
    named again at the top of the next message.
    """
    stories = digest_stories(items)
    sections = _digest_sections(stories, watchlists)
    if not sections:
        return []
    zone = chat_tz if isinstance(chat_tz, tzinfo) else _zone(chat_tz)
    local_now = now.astimezone(zone)
    count = f"{len(stories)} stor{'y' if len(stories) == 1 else 'ies'}"
    heading = f"Daily digest · {local_now.day} {local_now.strftime('%b %Y')} ({zone})"
    messages: list[str] = []
    b = _Builder()
    b.add(f"<b>{esc(heading)}</b>\n{esc(count)}\n", f"{heading}\n{count}\n")
    shown: tuple[str, str] | None = None  # the (list, entity) whose heading is on screen
    for list_id, entities in sections:
        title = _list_title(watchlists, list_id)
        tag = hashtag(list_id) + (f" — {title}" if title else "")
        list_head = (f"\n<b>{esc(tag)}</b>\n", f"\n{tag}\n")
        for entity_id, lines in entities:
            name = cut(_entity_name(watchlists, entity_id), 100)
            entity_head = (f"<b>{esc(name)}</b>\n", f"{name}\n")
            for story, others in lines:
                line = _story_line(story, others, watchlists, zone, now)
                heads = []
                if shown is None or shown[0] != list_id:
                    heads.append(list_head)
                if shown != (list_id, entity_id):
                    heads.append(entity_head)
                if b.length + sum(tg_len(p) for _, p in [*heads, line]) > MAX_CHARS:
                    messages.append(b.build().html)
                    b = _Builder()
                    more = "Daily digest (continued)"
                    b.add(f"<b>{esc(more)}</b>\n", more + "\n")
                    heads = [list_head, entity_head]
                for markup, visible in [*heads, line]:
                    b.add(markup, visible)
                shown = (list_id, entity_id)
    messages.append(b.build().html)
    return messages


def _zone(name: str) -> tzinfo:
    """The IANA zone of that name; UTC when unknown (the command validated it already)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Subscribe this chat to alerts"),
    ("stop", "Unsubscribe this chat"),
    ("recent", "Latest matched items: /recent [n] [list|entity]"),
    ("search", "Search stored items: /search <words>"),
    ("lists", "Watchlists and their entities"),
    ("follow", "Receive only a list or entity: /follow <list|entity>"),
    ("unfollow", "Stop following a list or entity"),
    ("digest", "One message a day: /digest daily HH:MM [time zone], /digest off"),
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
