"""An alert: one story as a Telegram message, with "+N sources" when others carried it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Hit
from bot.render.text import (
    SUMMARY_CHARS,
    TITLE_CHARS,
    Builder,
    ItemLike,
    RenderedMessage,
    SourceLike,
    WatchlistsLike,
    add_field,
    clean,
    cut,
    esc,
    hashtag,
    safe_url,
    tg_len,
    when,
)


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
    b = Builder()
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
        add_field(b, title, hits, "title", TITLE_CHARS)
        b.add("</a>", "")
    else:
        add_field(b, title, hits, "title", TITLE_CHARS)
    source = cut(clean(feed_title or item.feed), 100)
    b.add(f"\n<i>{esc(source)}</i> · {esc(when(item.published or item.first_seen))}",
          f"\n{source} · {when(item.published or item.first_seen)}")
    if link:
        # Plain-text fallback has no anchor: show the URL itself.
        b.plain.append(f"\n{link}")
        b.length += tg_len(link) + 1
    more = _sources_block(sources, item.lang)
    summary = clean(item.summary)
    if summary:
        b.text("\n\n")
        room = b.room() - 8 - (tg_len(more[1]) if more else 0)
        add_field(b, summary, hits, "summary", max(0, min(SUMMARY_CHARS, room)))
    if more:
        b.add(*more)
    return b.build()


MAX_SOURCES_SHOWN = 8


def _language(tag: str | None) -> str | None:
    """The primary language of a tag ("zh-CN" → "zh"); None when unknown."""
    return tag.split("-")[0].lower() if tag else None


def _sources_block(sources: Sequence[SourceLike], lang: str | None) -> tuple[str, str] | None:
    """ "+N sources: A, B (zh), C" as (html, plain), the first few linked, a source in another
    language than the alert marked with its language; None without sources."""
    if not sources:
        return None
    shown = sources[:MAX_SOURCES_SHOWN]
    html_parts, plain_parts = [], []
    for src in shown:
        name = cut(clean(src.feed), 60)
        link = safe_url(src.link)
        other = _language(src.lang)
        mark = f" ({other})" if other and other != _language(lang) else ""
        html_parts.append((f'<a href="{esc(link)}">{esc(name)}</a>' if link else esc(name))
                          + esc(mark))
        plain_parts.append(name + mark)
    extra = len(sources) - len(shown)
    tail = f" and {extra} more" if extra else ""
    label = f"+{len(sources)} source{'s' if len(sources) > 1 else ''}: "
    return (f"\n\n<b>{esc(label)}</b>{', '.join(html_parts)}{esc(tail)}",
            f"\n\n{label}{', '.join(plain_parts)}{tail}")
