"""/filings [entity]: an entity's latest filings in the CAC registry, or the latest batch.

`bot.telegram.commands` registers a `FilingsCommand` and hands it its `reply` (HTML with a
plain-text fallback) and `resolve` (entity names → ids): this module needs nothing of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.render.filings import render_filings_reply
from bot.render.i18n import EN, Tr
from bot.render.replies import plain
from bot.render.text import RenderedMessage, cut
from bot.telegram.injected import InjectedCommand, Resolve

ENTITY_FILINGS = 20  # an entity's latest filings shown


class FilingsCommand(InjectedCommand):
    """The /filings handler, bound to the bot's services."""

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An entity's latest filings in the CAC registry, or the latest batch."""
        message = await filings_reply(self.services, context.args or [], self.resolve,
                                      await self.language(update))
        await self.reply(update, context, message)


def usage(tr: Tr) -> str:
    return tr._("Usage: /filings [entity] — e.g. /filings, /filings baidu (see /lists)")


async def filings_reply(services: Any, args: Sequence[str], resolve: Resolve,
                        tr: Tr = EN) -> RenderedMessage:
    """The reply to /filings: no argument, the latest batch's watched filers; an entity
    (id or name), its latest filings."""
    store, watchlists = services.store, services.watchlists
    if not args:
        batch = await asyncio.to_thread(store.filings.latest_batch)
        filings = ([] if batch is None else
                   await asyncio.to_thread(store.filings.search, batch_id=batch.id))
        return render_filings_reply(filings, watchlists, batch=batch, tr=tr)
    word = " ".join(args)
    scope = resolve(watchlists, word)
    if scope is None or scope[0] != "entity":
        return plain(tr._("Unknown entity “{word}”.").format(word=cut(word, 60)) + "\n"
                     + usage(tr))
    filings = await asyncio.to_thread(store.filings.search, entity=scope[1],
                                      limit=ENTITY_FILINGS)
    return render_filings_reply(filings, watchlists, entity=scope[1], tr=tr)
