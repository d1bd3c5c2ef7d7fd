"""What the web may read, enforced twice: Datasette's permissions and SQLite's authorizer.

Datasette decides which pages exist (`PUBLIC_TABLES`; `allowed()` answers its permission
hook: no arbitrary SQL, no download, no table that is not on the list). Below it, every
connection the web opens carries an SQLite authorizer (`authorize`): a statement that would
read a chat id, a subscriber, a message text or any table not named here fails to prepare,
and nothing can write, attach or create. So a canned query, a facet or a Datasette feature we
did not think of cannot reach private data either: the database refuses. An allowlist, not a
denylist: a table added later (follows, digests…) is private until someone names it here.

The outbox is readable only as counts of its states per alert (alerts sent per day), never
its chat, its text or its Telegram message id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from bot.store.search import SearchError, index_text, parse_query
from bot.web.catalog import Catalog

DATABASE = "newsbot"
# The only table pages (views included) Datasette may serve; the rest is canned queries.
PUBLIC_TABLES = frozenset({"story_sources"})
# Column reads the authorizer lets through: table → columns (None: every column).
READABLE: dict[str, frozenset[str] | None] = {
    "items": None, "hits": None, "stories": None, "alerts": None, "feed_state": None,
    "story_sources": None, "items_fts": None, "items_fts_data": None, "items_fts_idx": None,
    "items_fts_config": None, "items_fts_docsize": None,
    "outbox": frozenset({"id", "alert_id", "kind", "state"}),
    "sqlite_master": None, "sqlite_schema": None, "sqlite_temp_master": None,
    "sqlite_temp_schema": None, "sqlite_stat1": None, "json_each": None, "json_tree": None,
}
_ALWAYS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE,
           sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT}
# Pragmas that take an argument and only read (the schema Datasette shows), or set only this
# connection's cache; any other pragma may only be read, never set.
_PRAGMAS_WITH_ARGUMENT = {"table_info", "table_xinfo", "index_list", "index_info",
                          "index_xinfo", "foreign_key_list", "cache_size"}
# Datasette actions that are refused to everyone, and the ones a visitor needs a login for.
_NEVER = {"execute-sql", "view-database-download", "permissions-debug", "debug-menu",
          "insert-row", "delete-row", "update-row", "create-table", "drop-table", "alter-table"}


def authorize(action: int, arg1: str | None, arg2: str | None, schema: str | None,
              source: str | None) -> int:
    """sqlite3 authorizer: reads of READABLE only, read-only pragmas, no writes of any kind."""
    if action in _ALWAYS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ:
        table = (arg1 or "").lower()
        if table.startswith("pragma_"):  # table-valued pragmas: the schema, read-only
            return sqlite3.SQLITE_OK
        if table not in READABLE:
            return sqlite3.SQLITE_DENY
        columns = READABLE[table]
        if columns is None or not arg2 or arg2.lower() in columns:  # "": no column (count(*))
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        if arg2 is None or (arg1 or "").lower() in _PRAGMAS_WITH_ARGUMENT:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
        # SQLite asks this when it connects an eponymous virtual table (json_each): the
        # connection is read-only (mode=ro, query_only), so nothing can be written anyway.
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def allowed(action: str, resource: Any, actor: dict[str, Any] | None, *,
            login_required: bool) -> bool | None:
    """Datasette's permission question answered (None: no opinion, Datasette's default)."""
    if action in _NEVER:
        return False
    if login_required and actor is None and action.startswith("view-"):
        return False
    if action == "view-database":
        return resource == DATABASE
    if action == "view-table":
        database, table = resource
        return database == DATABASE and table in PUBLIC_TABLES
    if action == "view-query":
        return resource[0] == DATABASE
    return None


def fts_match(text: str) -> str:
    """A search box's text as an FTS5 expression of items_fts (CJK words as bigram phrases).

    Replaces Datasette's escape_fts(): the index holds folded text with Chinese as character
    bigrams (bot/store/search.py), which Datasette's quoting of raw words would never match.
    """
    try:
        match = parse_query(text).match
    except SearchError:
        match = ""
    if match:
        return match
    tokens = index_text(text).split()
    return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"' if tokens else '"\x01"'


def prepare(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Make a connection of the web safe and able: the authorizer and the rules' functions."""
    entities = catalog.entities_json()
    functions: list[tuple[str, int, Callable[..., Any]]] = [
        ("escape_fts", 1, fts_match),
        ("newsbot_entities", 0, lambda: entities),
        ("newsbot_entity_name", 1, catalog.name),
    ]
    for name, args, function in functions:
        conn.create_function(name, args, function, deterministic=True)
    conn.set_authorizer(authorize)
