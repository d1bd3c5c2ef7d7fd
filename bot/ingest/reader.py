"""How the bot reads a feed body: parse, key for stories, match, read as an event — in one job.

The job (`read_body`) runs wherever bodies are parsed: in a parse worker process in a cold
cycle, else in a thread. Matching and reading a matched item as an event cost about as much
as parsing it (~0.5 ms per item with a template-heavy feed, where every item matches); done
beside the parser they spread over the workers, instead of taking the GIL from the one
process that fetches and writes (bench/poll_cycle.py --compare).

A `Reader` is the rules of one moment: immutable and picklable, so a parse worker is given
it once, when the worker starts (ParsePool starts new workers when the rules change), and
every body the worker parses is read with the same rules as the others of its cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.models import Feed, Hit, Item, ParsedFeed
from bot.stories.forms import EventForm, form_json
from bot.stories.keys import StoryKeys

Matcher = Callable[[str, str], list[Hit]]
# A matched item read as an event (bot/stories/forms.py event_form with the current rules)
Describer = Callable[[Item, list[Hit]], EventForm]
# what reading found in one item: its hits, and when it matched a list its event form and
# that form as the store keeps it (forms.form_json: serialized here, not by the one writer)
Reading = tuple[list[Hit], EventForm | None, str | None]


@dataclass(frozen=True, slots=True)
class ReadFeed:
    """One body read: its items, their story keys, and per distinct item key its reading."""

    parsed: ParsedFeed
    story_keys: dict[str, StoryKeys]
    readings: dict[str, Reading]


class Reader:
    """Reads items as the bot does: which watched entities they name, and for a matched item
    what happening it reports. Picklable when its matcher and describer are (see of())."""

    def __init__(self, match: Matcher, describe: Describer | None = None) -> None:
        self.match = match
        self.describe = describe

    @classmethod
    def of(cls, watchlists: Any) -> Reader:
        """The reader of these compiled watchlists: match_item, and event_form with the
        product lexicon derived from the same rules (built on first use, in each process
        that reads: a cycle of 304s never needs it)."""
        from bot.match.matching import match_item

        return cls(functools.partial(match_item, watchlists=watchlists), _Events(watchlists))

    def read(self, items: list[Item]) -> dict[str, Reading]:
        """Each distinct item key's reading (the first item of a key, as the store keeps)."""
        out: dict[str, Reading] = {}
        for item in items:
            if item.key in out:
                continue
            hits = self.match(item.title, item.summary)
            event = stored = None
            if self.describe is not None and any(h.list for h in hits):
                event = self.describe(item, hits)
                stored = form_json(event)
            out[item.key] = (hits, event, stored)
        return out


class _Events:
    """A matched item read as an event with the watchlists' product lexicon, at its published
    time (the time the store gives it: without one, the store sets "first seen"). The
    lexicon is built where it is used, and not pickled with the reader."""

    def __init__(self, watchlists: Any) -> None:
        self._watchlists = watchlists
        self._lexicon: Any = None

    def __call__(self, item: Item, hits: list[Hit]) -> EventForm:
        from bot.stories.forms import event_form

        if self._lexicon is None:
            from bot.stories.lexicon import build_lexicon

            self._lexicon = build_lexicon(self._watchlists)
        at = int(item.published.timestamp()) if item.published is not None else 0
        return event_form(item.title, item.summary, item.lang, hits, at, self._lexicon)

    def __getstate__(self) -> dict[str, Any]:
        return {"_watchlists": self._watchlists, "_lexicon": None}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self._watchlists = state["_watchlists"]
        self._lexicon = None


# The reader of this parse worker's pool (set by worker_started; None in the main process).
_worker_reader: Reader | None = None


def worker_started(reader: Reader) -> None:
    """A parse worker's initializer: the reader every body it parses is read with. Ctrl-C
    reaches the whole process group: the main process shuts the workers down (and prints one
    line), a worker would only print a KeyboardInterrupt traceback."""
    import signal

    global _worker_reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_reader = reader


def read_body(body: bytes, *, feed: Feed, headers: Mapping[str, str] | None = None,
              base_url: str | None = None, reader: Reader | None = None) -> ReadFeed:
    """Parse a body, key its items for stories and read them (a parse worker's whole job);
    raises ParseError like parse_feed. `reader`: None in a worker (its pool's reader)."""
    from bot.ingest.parse import parse_with_story_keys

    parsed, keys = parse_with_story_keys(body, feed=feed, headers=headers, base_url=base_url)
    reader = reader or _worker_reader
    if reader is None:
        raise RuntimeError("read_body: no reader (a parse worker started without one)")
    return ReadFeed(parsed, keys, reader.read(parsed.items))
