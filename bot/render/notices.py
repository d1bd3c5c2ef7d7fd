"""Texts of admin notices (Telegram HTML, escaped): feed health changes, broken configuration.

Pure functions; the caller queues them in the outbox for each admin's private chat.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.errors import Problem
from bot.render.i18n import EN, Tr

MAX_PROBLEMS = 15  # a notice lists this many FILE:LINE problems, then "and N more"
MAX_ERROR_CHARS = 300


def _when(moment: datetime | None, tr: Tr) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else tr._("unknown")


def _short(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def health_notice(feed: str, url: str, old: str, new: str, *, since: datetime | None,
                  last_error: str | None, now: datetime, tr: Tr = EN) -> str:
    """One notice for a change of a feed's health (failing, stale, or recovered)."""
    feed_link = f'<a href="{html.escape(url, quote=True)}">{html.escape(feed)}</a>'
    if new == "failing":
        return (tr._("⚠️ <b>Feed failing</b>: {feed} has failed since {since}.").format(
                    feed=feed_link, since=_when(since, tr)) + "\n"
                + tr._("Last error: {error}").format(
                    error=f"<code>{html.escape(_short(last_error))}</code>") + "\n"
                + tr._("It is retried with backoff; you will get one note when it recovers."))
    if new == "stale":
        return tr._("💤 <b>Feed silent</b>: {feed} answers but has brought nothing new for much "
                    "longer than usual. Check that its URL still carries news.").format(
                        feed=feed_link)
    if old == "failing":
        text = tr._("✅ <b>Feed recovered</b>: {feed} is no longer failing ({when}).")
    else:
        text = tr._("✅ <b>Feed recovered</b>: {feed} is no longer silent ({when}).")
    return text.format(feed=feed_link, when=_when(now, tr))


def config_notice(problems: Sequence[Problem], tr: Tr = EN) -> str:
    """A broken configuration edit: the FILE:LINE problems, and that the old config runs on."""
    lines = [html.escape(str(p)) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(tr._("… and {n} more").format(n=len(problems) - MAX_PROBLEMS))
    body = "\n".join(lines)
    return (tr._("❌ <b>Configuration not reloaded</b>: the last good configuration keeps "
                 "running.") + f"\n<pre>{body}</pre>")
