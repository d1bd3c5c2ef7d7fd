"""Texts of admin notices (Telegram HTML, escaped): feed health changes, broken configuration.

Pure functions; the caller queues them in the outbox for each admin's private chat.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.errors import Problem

MAX_PROBLEMS = 15  # a notice lists this many FILE:LINE problems, then "and N more"
MAX_ERROR_CHARS = 300


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def _short(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def health_notice(feed: str, url: str, old: str, new: str, *, since: datetime | None,
                  last_error: str | None, now: datetime) -> str:
    """One notice for a change of a feed's health (failing, stale, or recovered)."""
    name = html.escape(feed)
    link = html.escape(url, quote=True)
    if new == "failing":
        return (f"⚠️ <b>Feed failing</b>: <a href=\"{link}\">{name}</a> has failed since "
                f"{_when(since)}.\nLast error: <code>{html.escape(_short(last_error))}</code>\n"
                "It is retried with backoff; you will get one note when it recovers.")
    if new == "stale":
        return (f"💤 <b>Feed silent</b>: <a href=\"{link}\">{name}</a> answers but has brought "
                "nothing new for much longer than usual. Check that its URL still carries news.")
    what = "failing" if old == "failing" else "silent"
    return f"✅ <b>Feed recovered</b>: <a href=\"{link}\">{name}</a> is no longer {what} ({_when(now)})."


def config_notice(problems: Sequence[Problem]) -> str:
    """A broken configuration edit: the FILE:LINE problems, and that the old config runs on."""
    lines = [html.escape(str(p)) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"… and {len(problems) - MAX_PROBLEMS} more")
    body = "\n".join(lines)
    return ("❌ <b>Configuration not reloaded</b>: the last good configuration keeps running.\n"
            f"<pre>{body}</pre>")
