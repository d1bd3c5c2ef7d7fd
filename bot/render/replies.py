"""Replies to commands: /recent, /search, /lists, /status, /stats, /help, /start, notices."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.models import Hit
from bot.render.alerts import alert_tags
from bot.render.i18n import EN, N_, Tr
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
               watchlists: WatchlistsLike | None, title_chars: int, tr: Tr) -> None:
    lists, names = alert_tags(hits, watchlists, tr)
    b.text(f"{n}. ")
    title = clean(item.title) or tr._("(untitled)")
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
                 watchlists: WatchlistsLike | None, *, empty: str, tr: Tr = EN) -> RenderedMessage:
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
        _item_line(b, n, item, hits, watchlists, per_item, tr)
        if b.length > MAX_CHARS - 40:
            b.html, b.plain, b.length = before
            b.text(tr._("… and {n} more").format(n=len(items) - n + 1))
            break
    return b.build()


def render_recent(items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                  watchlists: WatchlistsLike | None, *, scope: str | None = None,
                  tr: Tr = EN) -> RenderedMessage:
    """The /recent reply: latest matched items, newest first."""
    if scope:
        heading = tr.ngettext("Latest {n} matched item for {scope}",
                              "Latest {n} matched items for {scope}", len(items))
    else:
        heading = tr.ngettext("Latest {n} matched item", "Latest {n} matched items", len(items))
    return render_items(heading.format(n=len(items), scope=scope), items, hits_of, watchlists,
                        empty=tr._("Nothing matched yet. Alerts will appear here as feeds are "
                                   "polled."), tr=tr)


def render_search(words: str, items: Sequence[ItemLike], hits_of: Sequence[Sequence[Hit]],
                  watchlists: WatchlistsLike | None, tr: Tr = EN) -> RenderedMessage:
    """The /search reply."""
    return render_items(tr._("Search: {words}").format(words=cut(clean(words), 100)), items,
                        hits_of, watchlists,
                        empty=tr._("No stored item contains all of these words."), tr=tr)


def _lists_lines(watchlists: WatchlistsLike, tr: Tr = EN) -> list[tuple[str, str, str | None]]:
    """(html, plain, list id when the line heads a list) for every list and entity."""
    lines: list[tuple[str, str, str | None]] = []
    for wl in watchlists.lists:
        title = tr.title(wl)
        head = f"{wl.id} — {title} ({len(wl.entities)})"
        lines.append((f"\n<b>{esc(wl.id)}</b> — {esc(title)} ({len(wl.entities)})",
                      "\n" + head, wl.id))
        for e in wl.entities:
            zh = getattr(e, "zh", None) or ()
            zh_names = [zh] if isinstance(zh, str) else list(zh)[:2]
            zh_text = f" {', '.join(zh_names)}" if zh_names else ""
            plain = f"• {e.name}{zh_text} — {e.id}"
            lines.append((f"• {esc(e.name)}{esc(zh_text)} — <code>{esc(e.id)}</code>", plain, None))
    return lines


def render_lists(watchlists: WatchlistsLike, *, page: int = 0, per_page: int = 25,
                 follows: Sequence[str] = (), tr: Tr = EN) -> RenderedMessage:
    """The /lists reply: watchlists and entities, paged, with follow buttons and navigation."""
    lines = _lists_lines(watchlists, tr)
    pages = max(1, -(-len(lines) // per_page))
    page = min(max(0, page), pages - 1)
    chunk = lines[page * per_page:(page + 1) * per_page]
    b = Builder()
    title = (tr._("Watchlists (page {page}/{pages})").format(page=page + 1, pages=pages)
             if pages > 1 else tr._("Watchlists"))
    b.add(f"<b>{esc(title)}</b>\n", title + "\n")
    for markup, plain, _ in chunk:
        if b.room() < tg_len(plain) + 200:
            break
        b.add(markup + "\n", plain + "\n")
    following = tr._("everything") if not follows else ", ".join(follows)
    b.text("\n" + tr._("You follow: {scope}").format(scope=cut(following, 300))
           + "\n/follow <list|entity> · /unfollow <list|entity>")
    rows: list[tuple[Button, ...]] = []
    for _, _, list_id in chunk:
        if list_id is None:
            continue
        if list_id in follows:
            rows.append((Button(tr._("✓ Unfollow {list}").format(list=list_id),
                                f"unfollow:{list_id}:{page}"[:64]),))
        else:
            rows.append((Button(tr._("Follow {list}").format(list=list_id),
                                f"follow:{list_id}:{page}"[:64]),))
    nav = []
    if page > 0:
        nav.append(Button(tr._("◀ Prev"), f"lists:{page - 1}"))
    if page < pages - 1:
        nav.append(Button(tr._("Next ▶"), f"lists:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    return b.build(tuple(rows))


def render_status(health: Sequence[HealthLike], *, last_cycle: datetime | None,
                  now: datetime, tr: Tr = EN) -> RenderedMessage:
    """The /status reply: how many feeds are ok or failing, last cycle, oldest failure."""
    failing = [h for h in health if h.consecutive_errors > 0]
    never = [h for h in health if h.last_ok is None and h.consecutive_errors == 0]
    ok = len(health) - len(failing) - len(never)
    b = Builder()
    heading = tr._("Feed status")
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    b.text(tr._("{feeds} feeds: {ok} ok, {failing} failing, {never} not polled yet").format(
        feeds=len(health), ok=ok, failing=len(failing), never=len(never)) + "\n")
    b.text(tr._("Last cycle: {when}").format(when=when(last_cycle))
           + (f" ({_ago(last_cycle, now, tr)})" if last_cycle else "") + "\n")
    if failing:
        oldest = min(failing, key=lambda h: (h.last_ok or datetime.min.replace(tzinfo=UTC)))
        since = (tr._("last ok {when}").format(when=when(oldest.last_ok)) if oldest.last_ok
                 else tr._("never ok"))
        b.text(tr._("Oldest failure: {feed} ({since})").format(feed=cut(oldest.name, 80),
                                                                since=since) + "\n")
        b.text("\n" + tr._("Failing:") + "\n")
        worst = sorted(failing, key=lambda h: -h.consecutive_errors)
        for n, h in enumerate(worst):
            line = (f"• {cut(h.name, 60)} — {h.consecutive_errors}× "
                    f"{cut(clean(h.last_error) or tr._('error'), 120)}\n")
            if b.room() < tg_len(line) + 40:
                b.text(tr._("… and {n} more").format(n=len(worst) - n))
                break
            b.text(line)
    return b.build()


def _ago(moment: datetime, now: datetime, tr: Tr = EN) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return tr._("{n}s ago").format(n=seconds)
    if seconds < 5400:
        return tr._("{n} min ago").format(n=seconds // 60)
    return tr._("{n} h ago").format(n=seconds // 3600)


def render_stats(stats: Mapping[str, int], *, queue: Mapping[str, int] | None = None,
                 tr: Tr = EN) -> RenderedMessage:
    """The /stats reply (admins): subscribers, items, alerts sent, queue."""
    s = dict(stats)
    q = dict(queue or {})
    lines = [
        tr._("Subscribers: {active} active of {all}").format(
            active=s.get("active_subscribers", 0), all=s.get("subscribers", 0)),
        tr._("Items: {stored} stored, {matched} matched").format(
            stored=s.get("items", 0), matched=s.get("matched_items", 0)),
        tr._("Alerts: {alerts}; deliveries sent {sent}, pending {pending}, failed {failed}").format(
            alerts=s.get("alerts", 0), sent=s.get("sent", 0), pending=s.get("pending", 0),
            failed=s.get("failed", 0)),
    ]
    if q:
        lines.append(tr._("Worker: {counts}").format(
            counts=", ".join(f"{k} {v}" for k, v in q.items())))
    b = Builder()
    heading = tr._("Stats")
    b.add(f"<b>{esc(heading)}</b>\n", heading + "\n")
    b.text("\n".join(lines))
    return b.build()


# Descriptions in English, marked for the catalog (N_) and translated where shown.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Subscribe this chat to alerts")),
    ("stop", N_("Unsubscribe this chat")),
    ("recent", N_("Latest matched items: /recent [n] [list|entity]")),
    ("search", N_("Search stored items: /search <words>")),
    ("lists", N_("Watchlists and their entities")),
    ("follow", N_("Receive only a list or entity: /follow <list|entity>")),
    ("unfollow", N_("Stop following a list or entity")),
    ("digest", N_("One message a day: /digest daily HH:MM [time zone], /digest off")),
    ("status", N_("Feed health")),
    ("trends", N_("Chart of stories per entity: /trends [7d|30d|90d] [list|entity…]")),
    ("weekly", N_("A brief each week: /weekly on [Mon 09:00] [time zone], /weekly off")),
    ("filings", N_("CAC filing registry: the latest batch, or /filings <entity>")),
    ("muted", N_("Muted companies and how to lift them: /muted")),
    ("channel", N_("Alerts in a channel you run: /channel add @name [list…]")),
    ("lang", N_("Language of this chat: /lang zh | /lang en")),
    ("help", N_("What this bot does")),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("reload", N_("Re-read rules and feeds (admins)")),
    ("stats", N_("Subscribers, items, alerts, queue (admins)")),
)


def render_help(*, is_admin: bool = False, tr: Tr = EN) -> RenderedMessage:
    """The /help reply."""
    b = Builder()
    about = tr._("alerts on China's generative-AI industry from news feeds.")
    b.add(f"<b>newsbot</b> — {esc(about)}\n\n", f"newsbot — {about}\n\n")
    for name, text in COMMANDS + (ADMIN_COMMANDS if is_admin else ()):
        b.text(f"/{name} — {tr._(text)}\n")
    return b.build()


def render_start(*, new: bool, follows: Sequence[str], lists: Sequence[str],
                 tr: Tr = EN) -> RenderedMessage:
    """The /start reply: what this chat will receive and how to change it."""
    b = Builder()
    head = tr._("Subscribed.") if new else tr._("Already subscribed.")
    b.add(f"<b>{esc(head)}</b> ", head + " ")
    if follows:
        b.text(tr._("This chat will receive an alert for items about {scope}, as soon as a "
                    "feed publishes it.").format(scope=cut(", ".join(follows), 500)) + "\n")
    else:
        b.text(tr._("This chat will receive an alert for every matched item of every "
                    "watchlist, as soon as a feed publishes it.") + "\n")
    if lists:
        b.text(tr._("Watchlists: {lists}.").format(lists=cut(", ".join(lists), 500)) + "\n")
    b.text(tr._("Narrow it with /follow <list|entity> (see /lists), widen it with /unfollow; "
                "/recent shows the latest items; /stop ends the alerts; /lang zh switches to "
                "Chinese; /help lists everything."))
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
