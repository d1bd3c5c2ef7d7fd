"""An alert: one story as a Telegram message, with "+N sources" when others carried it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from bot.models import Hit
from bot.render.i18n import EN, Tr
from bot.render.text import (
    SUMMARY_CHARS,
    TITLE_CHARS,
    Builder,
    Button,
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


def alert_tags(hits: Sequence[Hit], watchlists: WatchlistsLike | None,
               tr: Tr = EN) -> tuple[list[str], list[str]]:
    """(list ids, entity display names in the reader's language) of listed hits, in
    first-seen order."""
    lists: list[str] = []
    names: list[str] = []
    for h in hits:
        if not h.list:
            continue
        if h.list not in lists:
            lists.append(h.list)
        info = watchlists.entity(h.entity) if watchlists is not None else None
        name = tr.name(info, h.entity)
        if name not in names:
            names.append(name)
    return lists, names


def render_alert(item: ItemLike, hits: Sequence[Hit], watchlists: WatchlistsLike | None, *,
                 feed_title: str | None = None,
                 sources: Sequence[SourceLike] = (), tr: Tr = EN) -> RenderedMessage:
    """One alert: tags, linked title, source and time, a short summary, matched words bold.

    `sources` are the other outlets that carried the same story: "+N sources" with links.
    The frame is in the reader's language (`tr`); the feed's own text never is translated.
    """
    lists, names = alert_tags(hits, watchlists, tr)
    b = Builder()
    tags = " ".join(hashtag(x) for x in lists)
    who = cut(tr.join(names), 300)
    if tags or who:
        b.add(esc(tags), tags)
        if who:
            b.add(f"{' · ' if tags else ''}<b>{esc(who)}</b>", f"{' · ' if tags else ''}{who}")
        b.text("\n")
    title = clean(item.title) or tr._("(untitled)")
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
    more = _sources_block(sources, item.lang, tr)
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


def _sources_block(sources: Sequence[SourceLike], lang: str | None,
                   tr: Tr = EN) -> tuple[str, str] | None:
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
    tail = tr._(" and {n} more").format(n=extra) if extra else ""
    label = tr.ngettext("+{n} source: ", "+{n} sources: ", len(sources)).format(n=len(sources))
    return (f"\n\n<b>{esc(label)}</b>{', '.join(html_parts)}{esc(tail)}",
            f"\n\n{label}{', '.join(plain_parts)}{tail}")


MUTE_DAYS = 7
MUTE_BUTTONS = 2  # entities an alert offers to mute (its first ones)
# The callback data of a button: (kind, value) → a string the bot can verify when pressed
# ("m" mute, "u" unmute, "s" sources); bot/telegram/buttons.py signs it for the chat.
CallbackData = Callable[[str, str], str | None]


def mute_button(entity: str, name: str, data: CallbackData, tr: Tr, *,
                muted: bool) -> Button | None:
    """"🔕 Mute Baidu 7 d", or "🔔 Unmute Baidu" when it is muted; None without data."""
    if muted:
        payload = data("u", entity)
        text = tr._("🔔 Unmute {name}").format(name=name)
    else:
        payload = data("m", entity)
        text = tr._("🔕 Mute {name} {days} d").format(name=name, days=MUTE_DAYS)
    return Button(cut(text, 40), payload) if payload else None


def alert_buttons(hits: Sequence[Hit], watchlists: WatchlistsLike | None, *, story_id: int | None,
                  sources: int, data: CallbackData, muted: Collection[str] = (),
                  tr: Tr = EN) -> tuple[tuple[Button, ...], ...]:
    """The buttons under an alert: mute (or unmute) its first entities; the story's other
    sources when it has some."""
    entities = list(dict.fromkeys(h.entity for h in hits if h.list))[:MUTE_BUTTONS]
    row = [b for e in entities
           if (b := mute_button(e, tr.name(watchlists.entity(e) if watchlists else None, e),
                                data, tr, muted=e in muted)) is not None]
    rows = [tuple(row)] if row else []
    if sources and story_id is not None and (payload := data("s", str(story_id))):
        label = tr.ngettext("📰 {n} more source", "📰 {n} more sources", sources)
        rows.append((Button(label.format(n=sources), payload),))
    return tuple(rows)


def render_sources(item: ItemLike, sources: Sequence[SourceLike], tr: Tr = EN) -> RenderedMessage:
    """The "Sources" button's answer: every other outlet of the story, linked."""
    b = Builder()
    head = tr._("Other sources of: {title}").format(title=cut(clean(item.title), 200))
    b.add(f"<b>{esc(head)}</b>\n", head + "\n")
    if not sources:
        b.text(tr._("No other outlet has carried it yet."))
        return b.build()
    for n, src in enumerate(sources):
        name, title = cut(clean(src.feed), 60), cut(clean(getattr(src, "title", "")), 150)
        link = safe_url(src.link)
        line = f"• {name}: {title}\n"
        if b.room() < tg_len(line) + 40:
            b.text(tr._("… and {n} more").format(n=len(sources) - n))
            break
        shown = f'<a href="{esc(link)}">{esc(title)}</a>' if link else esc(title)
        b.add(f"• <b>{esc(name)}</b>: {shown}\n", line)
    return b.build()
