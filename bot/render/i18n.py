"""Languages: every message a chat reads, in English or simplified Chinese.

Messages are written in English in the code and marked for translation: `tr._("…")`, or
`tr.ngettext("{n} story", "{n} stories", n)` for counts; placeholders are str.format names,
filled after translation so a translation can move them. The Chinese catalog is
`locale/zh/LC_MESSAGES/newsbot.po` (gettext), extracted with Babel (`make messages`) and read
as it is, no compiled .mo to go stale. Feed text is never translated; entity names come
from the rules, in Chinese where they give one.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Protocol

from bot.messages import N_

__all__ = ["DEFAULT", "EN", "LANGUAGES", "N_", "Tr", "language_of", "translator"]

LANGUAGES = ("en", "zh")
DEFAULT = "en"
LOCALE = Path(__file__).resolve().parent / "locale"
DOMAIN = "newsbot"


class NamedLike(Protocol):
    """An entity as the rules name it (bot.match.watchlists.EntityInfo)."""

    id: str
    name: str


class Tr:
    """The messages of one language."""

    def __init__(self, lang: str, translations: gettext.NullTranslations) -> None:
        self.lang = lang
        self._t = translations
        self.dates = Dates(lang)

    def _(self, message: str) -> str:
        """The message in this language (the English one when it has no translation)."""
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of a counted message for `n`."""
        return self._t.ngettext(singular, plural, n)

    def title(self, watchlist: object) -> str:
        """A watchlist's title in this language (its `title_zh:` for Chinese readers)."""
        zh = getattr(watchlist, "title_zh", None) if self.lang == "zh" else None
        return str(zh or getattr(watchlist, "title", ""))

    def join(self, names: Sequence[str]) -> str:
        """Names in a row: "A, B, C" / "A、B、C"."""
        return ("、" if self.lang == "zh" else ", ").join(names)

    def name(self, entity: NamedLike | None, fallback: str = "") -> str:
        """An entity's name in this language: its first Chinese name for Chinese readers
        when the rules give one, else its name."""
        if entity is None:
            return fallback
        if self.lang == "zh":
            zh = getattr(entity, "zh", None)
            first = zh if isinstance(zh, str) else (zh[0] if zh else None)
            if first:
                return str(first)
        return entity.name


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class Dates:
    """Dates as each language writes them ("1 Mar 2025" / "2025年3月1日")."""

    def __init__(self, lang: str) -> None:
        self.zh = lang == "zh"

    def day(self, d: date) -> str:
        """A day with its year."""
        if self.zh:
            return f"{d.year}年{d.month}月{d.day}日"
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"

    def day_month(self, d: date) -> str:
        """A day without its year: "26 Nov" / "11月26日"."""
        return f"{d.month}月{d.day}日" if self.zh else f"{d.day:02d} {_MONTHS[d.month - 1]}"

    def weekday(self, n: int) -> str:
        """A weekday's short name, 0 = Monday."""
        return (_WEEKDAYS_ZH if self.zh else _WEEKDAYS_EN)[n]

    def span(self, first: date, last: date) -> str:
        """A span of days: "23 Nov – 29 Nov 2026" / "2026年11月23日–29日"."""
        if self.zh:
            tail = (f"{last.day}日" if (first.year, first.month) == (last.year, last.month)
                    else f"{last.month}月{last.day}日" if first.year == last.year
                    else self.day(last))
            return f"{self.day(first)}–{tail}"
        head = self.day_month(first) + ("" if first.year == last.year else f" {first.year}")
        return f"{head} – {self.day_month(last)} {last.year}"


def catalog_path(lang: str) -> Path:
    """Where the catalog of a language lives."""
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translator(lang: str | None) -> Tr:
    """The translator of a language ("zh", "en"; anything else is English)."""
    lang = lang if lang in LANGUAGES else DEFAULT
    if lang == DEFAULT:
        return Tr(lang, gettext.NullTranslations())
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Tr(lang, gettext.GNUTranslations(mo))


def language_of(code: str | None) -> str:
    """A chat's language from a Telegram user's language_code: zh* is Chinese, else English."""
    return "zh" if (code or "").lower().startswith("zh") else DEFAULT


EN = translator(DEFAULT)
