"""A digest: a chat's held alerts of the day as one message, grouped by list and entity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import Hit
from bot.render.i18n import EN, Tr
from bot.render.text import (
    MAX_CHARS,
    Builder,
    ItemLike,
    WatchlistsLike,
    add_field,
    clean,
    cut,
    esc,
    hashtag,
    safe_url,
    tg_len,
)

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


def _entity_name(watchlists: WatchlistsLike | None, entity_id: str, tr: Tr = EN) -> str:
    return tr.name(watchlists.entity(entity_id) if watchlists is not None else None, entity_id)


def _list_title(watchlists: WatchlistsLike | None, list_id: str, tr: Tr = EN) -> str | None:
    for wl in watchlists.lists if watchlists is not None else ():
        if wl.id == list_id:
            return tr.title(wl)
    return None


def _local_time(moment: datetime, zone: tzinfo, now: datetime, tr: Tr = EN) -> str:
    """'14:05' on the chat's today, else '26 Nov 14:05', in the chat's time zone."""
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return f"{tr.dates.day_month(local.date()).lstrip('0')} {local:%H:%M}"


def _story_line(story: _Story, others: Sequence[str], watchlists: WatchlistsLike | None,
                zone: tzinfo, now: datetime, tr: Tr = EN) -> tuple[str, str]:
    """One story as a complete line (html, plain): no tag ever spans two lines."""
    b = Builder()
    item = story.lead
    b.text("• ")
    title = clean(item.title) or tr._("(untitled)")
    link = safe_url(item.link)
    hits = [h for h in item.hits if h.list]
    if link:
        b.add(f'<a href="{esc(link)}">', "")
    add_field(b, title, hits, "title", DIGEST_TITLE_CHARS)
    if link:
        b.add("</a>", "")
    at = _local_time(item.published or item.first_seen, zone, now, tr)
    meta = f" — {cut(clean(item.feed), 60)}, {at}"
    if story.sources > 1:
        meta += tr._(" ({n} sources)").format(n=story.sources)
    if others:
        meta += " · " + tr._("also {names}").format(
            names=cut(tr.join([_entity_name(watchlists, e, tr) for e in others]), 120))
    b.add(f"<i>{esc(meta)}</i>\n", meta + "\n")
    return "".join(b.html), "".join(b.plain)


def render_digest(items: Sequence[DigestItemLike], watchlists: WatchlistsLike | None, *,
                  chat_tz: str | tzinfo, now: datetime, tr: Tr = EN) -> list[str]:
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
    count = tr.ngettext("{n} story", "{n} stories", len(stories)).format(n=len(stories))
    heading = tr._("Daily digest · {date} ({zone})").format(
        date=tr.dates.day(local_now.date()), zone=zone)
    messages: list[str] = []
    b = Builder()
    b.add(f"<b>{esc(heading)}</b>\n{esc(count)}\n", f"{heading}\n{count}\n")
    shown: tuple[str, str] | None = None  # the (list, entity) whose heading is on screen
    for list_id, entities in sections:
        title = _list_title(watchlists, list_id, tr)
        tag = hashtag(list_id) + (f" — {title}" if title else "")
        list_head = (f"\n<b>{esc(tag)}</b>\n", f"\n{tag}\n")
        for entity_id, lines in entities:
            name = cut(_entity_name(watchlists, entity_id, tr), 100)
            entity_head = (f"<b>{esc(name)}</b>\n", f"{name}\n")
            for story, others in lines:
                line = _story_line(story, others, watchlists, zone, now, tr)
                heads = []
                if shown is None or shown[0] != list_id:
                    heads.append(list_head)
                if shown != (list_id, entity_id):
                    heads.append(entity_head)
                if b.length + sum(tg_len(p) for _, p in [*heads, line]) > MAX_CHARS:
                    messages.append(b.build().html)
                    b = Builder()
                    more = tr._("Daily digest (continued)")
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
