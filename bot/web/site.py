"""The site: a Datasette instance over the bot's database, read-only, and how it is served.

`check_database` refuses a database the web cannot show (missing, or older than the views of
migration m010) with how to fix it; `build_site` wires Datasette (metadata: titles and
descriptions; settings: no SQL, no download; our plugin); `serve` runs it with uvicorn.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from bot.errors import NewsbotError
from bot.web.catalog import Catalog
from bot.web.plugin import NewsbotPlugin
from bot.web.privacy import DATABASE
from bot.web.queries import QUERIES

TEMPLATES = Path(__file__).parent / "templates"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
WEB_MIGRATION = "m010_web_views"
LOGIN = "admin"  # the user name of the login form; the password is NEWSBOT_WEB_PASSWORD

SETTINGS: dict[str, Any] = {
    "default_allow_sql": False,  # arbitrary SQL off (the permission hook refuses it too)
    "allow_download": False,
    "suggest_facets": False,  # each suggestion is a query over the whole view
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 800,
    "max_returned_rows": 1000,
    "default_page_size": 50,
    "default_facet_size": 15,
}


class WebError(NewsbotError):
    """`newsbot web` cannot start; the message says why and what to do."""


class ReadOnlyDatabase(Database):
    """The bot's database as Datasette reads it: every connection `mode=ro` and query_only.

    Datasette would open a writable connection for its write API; this one never can. Each
    query runs in autocommit mode and its statement is finished when Datasette has its rows,
    so no read transaction outlives a request and the bot's WAL checkpoints go through.
    """

    def connect(self, write: bool = False) -> sqlite3.Connection:
        """A new read-only connection (`write` is ignored: there is no writable one)."""
        conn = sqlite3.connect(f"file:{Path(self.path).resolve()}?mode=ro", uri=True,
                               check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        self._all_file_connections.append(conn)
        return conn


def check_database(path: Path) -> None:
    """Raise WebError unless `path` is a newsbot database with the web's views."""
    if not path.is_file():
        raise WebError(f"no database at {path}: start the bot (`newsbot run`) or poll once "
                       "(`newsbot poll`) first, or point --db / NEWSBOT_DB at it")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT 1 FROM _sqlite_migrations WHERE name = ?",
                               [WEB_MIGRATION]).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise WebError(f"{path} is not a newsbot database ({exc}); check --db / NEWSBOT_DB") \
            from exc
    if row is None:
        raise WebError(f"{path} predates the web's views (migration {WEB_MIGRATION}): restart "
                       "the bot or run `newsbot poll` once with this version to upgrade it")


def metadata(catalog: Catalog) -> dict[str, Any]:
    """Titles and descriptions of the site, its pages and queries (Datasette metadata)."""
    lists = ", ".join(f"{title} ({list_id})" for list_id, title in catalog.lists.items())
    return {
        "title": "newsbot",
        "description": "What newsbot's watchlists caught in the news feeds it polls.",
        "databases": {DATABASE: {
            "title": "newsbot: pages and queries",
            "description": f"Stories and feeds as the bot stored them. Watchlists: {lists}. "
                           "Every page exports as CSV and JSON.",
            "tables": {"story_sources": {
                "title": "Stories",
                "description": "Every matched item, newest first: one row per source of a story "
                               "(the story column links to all its sources). Search finds "
                               "Chinese and English words; facets narrow by list, entity, feed, "
                               "language and day.",
                "fts_table": "items_fts", "fts_pk": "id",
                "sort_desc": "seen", "size": 50,
                "facets": [{"array": "lists"}, {"array": "entities"}, "feed", "lang",
                           {"date": "seen"}],
            }},
            "queries": QUERIES,
        }},
        "plugins": {},
    }


def build_site(db_path: Path, catalog: Catalog, *, password_hash: str | None = None) -> Datasette:
    """The Datasette app over `db_path`; with a password hash, every page needs the login."""
    meta = metadata(catalog)
    if password_hash:
        meta["plugins"]["datasette-auth-passwords"] = {f"{LOGIN}_password_hash": password_hash}
    ds = Datasette(metadata=meta, settings=SETTINGS, template_dir=str(TEMPLATES),
                   secret=secrets.token_hex(32))
    ds.add_database(ReadOnlyDatabase(ds, path=str(db_path)), name=DATABASE, route=DATABASE)
    pm.register(NewsbotPlugin(catalog, login_required=password_hash is not None),
                name=f"newsbot-{id(ds)}")
    return ds


def serve(ds: Datasette, host: str, port: int) -> None:
    """Serve the site until interrupted (uvicorn: one process, Datasette's thread pool)."""
    import uvicorn

    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
