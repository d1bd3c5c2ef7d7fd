"""Forum topics: `/follow llm` sent inside a topic of a forum supergroup routes llm's alerts
to that topic; sent in General, back to General. A topic deleted later is noticed by the
delivery worker (Telegram answers "message thread not found"): `TopicFallback` then drops
the chat's routes to it and tells the chat, once, in General."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import Update

from bot.render.i18n import Tr, translator
from bot.render.text import esc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topic:
    """Where in a forum a command was sent: a topic's thread, or None for General."""

    thread_id: int | None


def topic_of(update: Update) -> Topic | None:
    """The forum topic a command came from (Topic(None): General); None outside forums."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or not chat.is_forum:
        return None
    # In a forum, a message of a topic carries its thread and is_topic_message; General's
    # carry neither (a reply's thread in an ordinary group is not a topic).
    return Topic(message.message_thread_id if message.is_topic_message else None)


def route_follow(store: Any, chat_id: int, scope: str, topic: Topic, now: datetime,
                 tr: Tr) -> str:
    """Send a chat's alerts about `scope` to the topic the command came from; the sentence
    that says so."""
    store.topics.route(chat_id, scope, topic.thread_id, now)
    log.info("chat %s: %s routed to topic %s", chat_id, scope, topic.thread_id or "General")
    if topic.thread_id is None:
        return tr._("Alerts about {scope} arrive in General.").format(scope=scope)
    return tr._("Alerts about {scope} arrive in this topic.").format(scope=scope)


def topic_gone_notice(scopes: Sequence[str], tr: Tr) -> str:
    """What a forum reads in General when the topic of some of its scopes was deleted."""
    return "\n".join(esc(tr._("The topic for {scope} is gone; its alerts now arrive here. "
                              "/follow {scope} inside a topic routes them again.").format(
                                  scope=scope)) for scope in scopes)


class TopicFallback:
    """The delivery worker's `on_topic_gone`: forget a deleted topic, tell the chat once."""

    def __init__(self, store: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.store = store
        self.clock = clock

    async def __call__(self, job: Any, thread_id: int) -> None:
        """The topic `thread_id` of the job's chat is gone: its scopes go back to General."""
        tr = translator(getattr(job, "lang", None))
        scopes = await asyncio.to_thread(
            self.store.topics.forget_thread, job.chat_id, thread_id, self.clock(),
            lambda scopes: topic_gone_notice(scopes, tr))
        if scopes:
            log.info("chat %s: topic %s deleted; %s back to General", job.chat_id, thread_id,
                     ", ".join(scopes))
