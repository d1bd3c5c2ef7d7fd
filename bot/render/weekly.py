"""A weekly brief: the week's chart as a photo, and a caption with what mattered.

The caption says the week's story count against the week before, the entities most in the
news, each list's most told stories (linked) and the entities seen for the first time. It
must fit Telegram's 1,024-character caption: shorter titles, then fewer stories per list,
until it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.render.i18n import EN, Tr
from bot.render.text import Builder, RenderedMessage, cut, esc, safe_url, tg_len
from bot.render.trends import Trend

CAPTION_CHARS = 1024
TOP_ENTITIES = 5


class TopStoryLike(Protocol):
    """One of a list's most told stories (bot.store.weekly.TopStory)."""

    title: str
    link: str | None
    sources: int


@dataclass(frozen=True, slots=True)
class WeeklyBrief:
    """The figures of one chat's week: what the brief shows."""

    week: str  # "2026-W49"
    first_day: date  # local days, inclusive
    last_day: date
    stories: int
    previous: int  # stories the week before
    trend: Trend
    top: tuple[tuple[str, tuple[TopStoryLike, ...]], ...]  # (list title, stories), list order
    new_entities: tuple[str, ...]  # names of entities seen for the first time


def span(brief: WeeklyBrief, tr: Tr = EN) -> str:
    """The brief's days: "23 Nov – 29 Nov 2026"."""
    return tr.dates.span(brief.first_day, brief.last_day)


def chart_title(brief: WeeklyBrief, tr: Tr = EN) -> str:
    """The chart's title: the week and its span."""
    return tr._("Stories per entity, {span}").format(span=span(brief, tr))


def render_weekly(brief: WeeklyBrief, tr: Tr = EN) -> RenderedMessage:
    """The brief's caption (HTML and plain), at most CAPTION_CHARS as Telegram counts them."""
    for title_chars, per_list in ((90, 3), (70, 3), (60, 2), (50, 2), (45, 1)):
        message = _caption(brief, title_chars, per_list, tr)
        if tg_len(message.plain) <= CAPTION_CHARS:
            return message
    short = cut(message.plain, CAPTION_CHARS)  # still too long (many lists): plain, cut
    return RenderedMessage(esc(short), short)


def _caption(brief: WeeklyBrief, title_chars: int, per_list: int, tr: Tr) -> RenderedMessage:
    b = Builder()
    head = tr._("Weekly brief · {span}").format(span=span(brief, tr))
    b.add(f"<b>{esc(head)}</b>\n", head + "\n")
    change = brief.stories - brief.previous
    b.text(tr.ngettext("{n} story, {change} against the week before ({previous})",
                       "{n} stories, {change} against the week before ({previous})",
                       brief.stories).format(n=brief.stories, change=f"{change:+d}",
                                             previous=brief.previous))
    if not brief.stories:
        b.text("\n" + tr._("A quiet week: nothing on your lists."))
        return b.build()
    leaders = [s for s in brief.trend.series if s.total][:TOP_ENTITIES]
    if leaders:
        b.text("\n" + " · ".join(f"{s.name} {s.total} ({s.change:+d})" for s in leaders))
    for list_title, stories in brief.top:
        if not stories:
            continue
        b.add(f"\n\n<b>{esc(list_title)}</b>", f"\n\n{list_title}")
        for story in stories[:per_list]:
            title = cut(story.title, title_chars)
            url = safe_url(story.link)
            linked = f'<a href="{esc(url)}">{esc(title)}</a>' if url else esc(title)
            tail = tr._(" ({n} sources)").format(n=story.sources) if story.sources > 1 else ""
            b.add(f"\n• {linked}{esc(tail)}", f"\n• {title}{tail}")
    if brief.new_entities:
        b.text("\n\n" + tr._("New this week: {names}").format(names=tr.join(brief.new_entities)))
    return b.build()


def list_titles(lists: Sequence[tuple[str, str]], top: dict[str, Sequence[TopStoryLike]]
                ) -> tuple[tuple[str, tuple[TopStoryLike, ...]], ...]:
    """Each list's top stories under its title, in the watchlists' order."""
    return tuple((title, tuple(top[list_id])) for list_id, title in lists if top.get(list_id))
