"""Event memory: each matched item's event form, the stories its event keys find, their profiles.

The decision itself is pure (bot/stories/events.py); this part gives it what it compares: the
candidate stories of the last 48 hours that share an event key (one indexed query, bounded),
each story's profile (rebuilt from its members' stored forms, then kept up to date as members
are added, and dropped when another process writes) and document frequencies of the stored
forms' text features.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence

from bot.store.db import Db
from bot.stories.events import MAX_MEMBERS, WINDOW_S, DocFreq, StoryProfile, weighted
from bot.stories.forms import EventForm, form_from_json, form_json

# A story lookup considers at most this many stories that share an event key, those sharing
# the most keys first (a product version, a topic-like action, several entities), then the
# most recently active: a hot entity on a big day has a dozen open stories, template-heavy
# feeds far more, and each candidate costs one comparison.
MAX_CANDIDATES = 12
# A profile counts all of a story's members; one of more than this many members is rebuilt
# from its most recent ones (a story that large is settled).
MAX_PROFILE_MEMBERS = 200
# Document frequencies come from the most recent stored forms.
IDF_FORMS = 5000
# Per event key, a lookup reads at most this many index rows, the most recent in the window:
# an entity named by thousands of items in two days (template feeds, a very big day) must
# not make every lookup read thousands of rows. Its open stories are among the recent rows.
KEY_ROWS = 200
# Profiles cached (each holds up to MAX_MEMBERS forms and vectors, ~40 kB): the stories of a
# busy day's open events, not the archive.
_CACHE_STORIES = 400


class Events:
    """The item_events table and the event rows of the story index."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self._profiles: OrderedDict[int, StoryProfile] = OrderedDict()
        self._idf: DocFreq | None = None
        # SQLite's data_version when the cached profiles were last known to be whole: it
        # changes when another connection (a second `newsbot` process) commits, and only
        # then can a cached profile miss a member (this one's adds go through add())
        self._version: int | None = None
        # item_events rows added but not yet inserted: written together (flush), and before
        # anything reads the table, so that every read sees every add
        self._pending: list[tuple[int, int, int, str]] = []

    def candidates(self, conn: sqlite3.Connection, keys: Sequence[int], at: int,
                   window: int = WINDOW_S) -> list[int]:
        """Stories with a member within `window` of `at` that shares one of these event keys:
        those sharing the most keys first, then the most recently active; MAX_CANDIDATES."""
        if not keys:
            return []
        lo, hi = at - window, at + window
        rows = conn.execute(
            """WITH q (key) AS (SELECT value FROM json_each(?))
               SELECT k.story_id FROM q JOIN story_keys k ON k.key = q.key
                 AND k.at <= ? AND k.at >= COALESCE(
                   (SELECT b.at FROM story_keys b WHERE b.key = q.key AND b.at BETWEEN ? AND ?
                    ORDER BY b.at DESC LIMIT 1 OFFSET ?), ?)
               GROUP BY k.story_id ORDER BY COUNT(DISTINCT k.key) DESC, MAX(k.at) DESC
               LIMIT ?""",
            [json.dumps(list(keys)), hi, lo, hi, KEY_ROWS - 1, lo, MAX_CANDIDATES],
        ).fetchall()
        return [story_id for (story_id,) in rows]

    def profiles(self, conn: sqlite3.Connection,
                 story_ids: Sequence[int]) -> dict[int, StoryProfile]:
        """The profile of each of these stories that has event members: cached, and rebuilt
        from its stored forms when not cached or when another process has written since."""
        self._sync(conn)
        out: dict[int, StoryProfile] = {}
        idf = self.idf(conn)
        for story_id in sorted(set(story_ids)):
            profile = self._profiles.get(story_id)
            if profile is None:
                forms = self.story_forms(conn, story_id, MAX_PROFILE_MEMBERS)
                if not forms:
                    continue
                profile = StoryProfile.of(forms, idf)
                self._remember(story_id, profile)
            else:
                self._profiles.move_to_end(story_id)
            out[story_id] = profile
        return out

    def _sync(self, conn: sqlite3.Connection) -> None:
        """Drop the cached profiles if another connection has committed since they were
        checked last: a PRAGMA, where counting each candidate's members was a query each."""
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        if version != self._version:
            self._profiles.clear()
            self._version = version

    def story_forms(self, conn: sqlite3.Connection, story_id: int,
                    limit: int = MAX_MEMBERS) -> list[EventForm]:
        """A story's most recent `limit` member forms, oldest first."""
        self.flush(conn)
        rows = conn.execute(
            """SELECT form FROM (SELECT form, at, item_id FROM item_events WHERE story_id = ?
                                 ORDER BY at DESC, item_id DESC LIMIT ?)
               ORDER BY at, item_id""",
            [story_id, limit],
        ).fetchall()
        return [form_from_json(json.loads(form)) for (form,) in rows]

    def form(self, item_id: int) -> tuple[int, EventForm] | None:
        """A stored item's (story id, event form), or None for an item without one."""
        with self.db.lock:
            self.flush(self.db.conn)
        rows = self.db.rows("SELECT story_id, form FROM item_events WHERE item_id = ?",
                            [item_id])
        if not rows:
            return None
        return int(rows[0]["story_id"]), form_from_json(json.loads(str(rows[0]["form"])))  # type: ignore[call-overload]

    def idf(self, conn: sqlite3.Connection) -> DocFreq:
        """Document frequencies of the most recent stored forms (built once, then kept)."""
        if self._idf is None:
            self.flush(conn)
            idf = DocFreq()
            for (form,) in conn.execute(
                    "SELECT form FROM item_events ORDER BY item_id DESC LIMIT ?", [IDF_FORMS]):
                idf.n += 1
                idf.df.update(json.loads(form)["tf"].keys())
            self._idf = idf
        return self._idf

    def vector(self, conn: sqlite3.Connection, form: EventForm) -> dict[str, float]:
        """A new item's weighted text features, under the current frequencies: computed once,
        for its comparison with candidate stories and for its story's profile (add)."""
        return weighted(form, self.idf(conn))

    def add(self, conn: sqlite3.Connection, item_id: int, story_id: int, form: EventForm,
            new_story: bool, *, vector: dict[str, float] | None = None,
            stored: str | None = None) -> None:
        """Store one placed item's form, inside the caller's transaction (its row is written
        by the next flush(), which every read of item_events makes first). The next item of
        the same batch may be of the same story and must see it in its profile: the cached
        profile and the frequencies learn it at once (forget() after a rollback).
        `vector`: its vector() from before it was counted, else weighted here after;
        `stored`: its form_json(), when made already (in a parse worker)."""
        self._pending.append(
            (item_id, story_id, form.at, stored if stored is not None else form_json(form)))
        idf = self.idf(conn)
        idf.add(form)
        profile = self._profiles.get(story_id)
        if profile is not None:
            profile.add(form, idf, vector=vector)
        elif new_story:
            profile = StoryProfile()
            profile.add(form, idf, vector=vector)
            self._remember(story_id, profile)

    def flush(self, conn: sqlite3.Connection) -> None:
        """Write the added forms' rows (one statement for a batch's, not one per item), inside
        the caller's transaction: Intake does at the end of each batch."""
        if self._pending:
            conn.executemany(
                "INSERT INTO item_events (item_id, story_id, at, form) VALUES (?,?,?,?)",
                self._pending)
            self._pending.clear()

    def forget(self) -> None:
        """Drop every cached profile and frequency, and the rows not yet written (after a
        rolled-back transaction)."""
        self._pending.clear()
        self._profiles.clear()
        self._idf = None
        self._version = None

    def _remember(self, story_id: int, profile: StoryProfile) -> None:
        self._profiles[story_id] = profile
        self._profiles.move_to_end(story_id)
        while len(self._profiles) > _CACHE_STORIES:
            self._profiles.popitem(last=False)
