"""Replies to commands: /recent, /search, /lists, /status, /stats, /help, /start, notices."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.models import Hit
from bot.render.alerts import alert_tags
from bot.render.text import (
    MAX_CHARS,
    TITLE_CHARS,
    Builder,
    Button,
    HealthLike,
    ItemLike,
    RenderedMessage,
    WatchlistsLike,
    add_field,
    clean,
    cut,
    esc,
    safe_url,
    tg_len,
    when,
)


def _item_line(b: Builder, n: int, item: ItemLike, hits: Sequence[Hit],
               watchlists: WatchlistsLike | None, title_chars: int) -> None:
    lists, names = alert_tags(hits, watchlists)
    b.text(f"{n}. ")
    title = clean(item.title) or "(untitled)"
    link = safe_url(item.link)
    if link:
        b.add(f'<a href="{esc(link)}">', "")
    add_field(b, title, hits, "title", title_chars)
    if link:
        b.add("</a>", "")
    meta = f"\n   {cut(clean(item.feed), 60)} · {when(item.published or item.first_seen)}"
    if names:
        meta += " · " + cut(", ".join(names), 80)
    b.text(meta + "\n")


def render_items(heading: str, items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                 watchlists: WatchlistsLike | None, *, empty: str) -> RenderedMessage:
    """A numbered list of items (for /recent and /search), fitted into one message."""
    b = Builder()
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
    b = Builder()
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
    b = Builder()
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
    b = Builder()
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
    ("digest", "One message a day: /digest daily HH:MM [time zone], /digest off"),
    ("status", "Feed health"),
    ("trends", "Chart of stories per entity: /trends [7d|30d|90d] [list|entity…]"),
    ("filings", "CAC filing registry: the latest batch, or /filings <entity>"),
    ("help", "What this bot does"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("reload", "Re-read rules and feeds (admins)"),
    ("stats", "Subscribers, items, alerts, queue (admins)"),
)


def render_help(*, is_admin: bool = False) -> RenderedMessage:
    """The /help reply."""
    b = Builder()
    b.add("<b>newsbot</b> — alerts on China's generative-AI industry from news feeds.\n\n",
          "newsbot — alerts on China's generative-AI industry from news feeds.\n\n")
    for name, text in COMMANDS + (ADMIN_COMMANDS if is_admin else ()):
        b.text(f"/{name} — {text}\n")
    return b.build()


def render_start(*, new: bool, follows: Sequence[str], lists: Sequence[str]) -> RenderedMessage:
    """The /start reply: what this chat will receive and how to change it."""
    b = Builder()
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
