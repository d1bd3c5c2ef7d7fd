"""newsbot's Datasette plugin: privacy, the rules' SQL functions, the dashboard, links.

One object per site (registered with Datasette's plugin manager by bot/web/site.py), so the
catalog and the login setting are the site's own, not module state.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import Forbidden, Response
from markupsafe import Markup

from bot.web.catalog import Catalog
from bot.web.dashboard import dashboard_page
from bot.web.privacy import DATABASE, allowed, prepare

# Datasette's own introspection pages: configuration, plugins, threads, permissions. None is
# needed to read the news, and /-/metadata would show the login's password hash.
BLOCKED_PATHS = ("/-/metadata", "/-/plugins", "/-/versions", "/-/settings", "/-/config",
                 "/-/threads", "/-/databases", "/-/permissions", "/-/allow-debug",
                 "/-/messages", "/-/patterns", "/-/password-tool", "/-/actor")
# Query-string switches that would point a search at another table or another syntax.
STRIPPED_ARGS = {"_fts_table", "_fts_pk", "_searchmode", "_where", "_show_sql", "_context"}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class NewsbotPlugin:
    """The hooks: each a method, reading this site's catalog and login setting."""

    def __init__(self, catalog: Catalog, *, login_required: bool) -> None:
        self.catalog = catalog
        self.login_required = login_required
        # Suggestions for canned queries' parameters: (value, label).
        self.choices = {
            "entity": [(e.id, f"{e.name} {e.zh or ''}".strip()) for e in catalog.entities],
            "list": list(catalog.lists.items()),
            "days": [(d, f"the last {d} days") for d in ("7", "30", "90", "365")]}
        self.facet_names = {"entities": {e.id: e.name for e in catalog.entities},
                            "lists": dict(catalog.lists)}
        self.__name__ = "bot.web"  # Datasette lists plugins by module name, and finds their
        #                            templates there (bot/web/templates)

    @hookimpl(trylast=True)  # after Datasette's own escape_fts: ours must replace it
    def prepare_connection(self, conn: sqlite3.Connection, database: str) -> None:
        """Every connection: the authorizer, and the rules as SQL functions."""
        if database == DATABASE:
            prepare(conn, self.catalog)

    @hookimpl(trylast=True)  # the last answer wins in Datasette 0.65
    def permission_allowed(self, actor: dict[str, Any] | None, action: str,
                           resource: Any) -> bool | None:
        """Only the public pages, no SQL, nothing without a login when one is required."""
        return allowed(action, resource, actor, login_required=self.login_required)

    @hookimpl
    def forbidden(self, datasette: Any, request: Any) -> Response | None:
        """A visitor without a login goes to the login form instead of a bare 403."""
        if self.login_required and request.actor is None:
            return Response.redirect(datasette.urls.path("/-/login"))
        return None

    @hookimpl
    def register_routes(self) -> list[tuple[str, Any]]:
        """The dashboard is the home page."""
        return [(r"^/$", self.dashboard)]

    async def dashboard(self, request: Any, datasette: Any) -> Response:
        """GET /: the dashboard (period, list and entity filters in the query string)."""
        if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
            raise Forbidden("log in to see the dashboard")
        return await dashboard_page(request, datasette, self.catalog)

    @hookimpl
    def menu_links(self, datasette: Any) -> list[dict[str, str]]:
        """The pages, in the menu too."""
        return [{"href": datasette.urls.path(href), "label": label} for label, href in nav()]

    @hookimpl
    def extra_template_vars(self, datasette: Any, view_name: str) -> dict[str, Any]:
        """The site navigation for every page (templates/_crumbs.html); no SQL on any page
        (a canned query's SQL, a view's definition)."""
        hidden: dict[str, Any] = {"view_definition": None, "table_definition": None,
                                  "edit_sql_url": None, "is_view": False}  # no "(view)"
        if view_name == "query":
            hidden["query"] = None
        return {"newsbot_nav": [(label, datasette.urls.path(href)) for label, href in nav()],
                "newsbot_choices": self.choices, "newsbot_facet_names": self.facet_names,
                **hidden}

    @hookimpl
    def render_cell(self, row: Any, value: Any, column: str, table: str | None,
                    database: str | None, datasette: Any) -> Markup | None:
        """Titles link to the article; entity and list ids read as names; a story links to
        all its sources."""
        if database != DATABASE or value is None:
            return None
        keys = row.keys() if hasattr(row, "keys") else ()
        if column == "title" and "link" in keys and str(row["link"] or "").startswith("http"):
            return Markup(f'<a href="{escape(row["link"])}" rel="noreferrer">'
                          f'{escape(str(value))}</a>')
        if column == "story" and isinstance(value, int):
            href = datasette.urls.table(DATABASE, "story_sources") + f"?story={value}"
            return Markup(f'<a href="{escape(href)}">{value}</a>')
        if column in ("entities", "lists") and table == "story_sources":
            try:
                ids = json.loads(value)
            except (TypeError, ValueError):
                return None
            names = [self.catalog.name(i) if column == "entities" else i for i in ids]
            return Markup(", ".join(escape(str(n)) for n in names))
        if isinstance(value, str) and _TIMESTAMP.match(value):  # stored UTC times, readable
            return Markup(f'<span title="{escape(value)}">{value[:10]} {value[11:16]}</span>')
        return None

    @hookimpl
    def asgi_wrapper(self) -> Callable[[ASGI], ASGI]:
        """404 for Datasette's introspection pages; search switches removed from queries."""
        def wrap(app: ASGI) -> ASGI:
            async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
                if scope["type"] == "http":
                    path = scope.get("path", "")
                    if any(path == p or path.startswith((p + ".", p + "/"))
                           for p in BLOCKED_PATHS):
                        await Response.text("Not found", status=404).asgi_send(send)
                        return
                    scope = {**scope, "query_string": _strip(scope.get("query_string", b""))}
                    await app(scope, receive, _without_sql(send))
                    return
                await app(scope, receive, send)
            return guarded
        return wrap


def nav(today: date | None = None) -> list[tuple[str, str]]:
    """The site's pages. Stories opens on the last 30 days: its facets then count a month,
    not every item ever stored (over a million items, all-time facets run out of time)."""
    since = (today or datetime.now(UTC).date()) - timedelta(days=30)
    return [("Dashboard", "/"), ("Stories", f"{STORIES}?seen__gte={since.isoformat()}"),
            ("Feeds", f"/{DATABASE}/feeds"), ("Entities", f"/{DATABASE}/entities"),
            ("All queries", f"/{DATABASE}")]


STORIES = f"/{DATABASE}/story_sources"


def _without_sql(send: Any) -> Any:
    """An ASGI send that takes every "sql" key out of JSON answers (Datasette puts each
    query's SQL in its JSON; the schema behind the pages is not the visitors' business)."""
    state: dict[str, Any] = {"start": None, "body": []}

    async def scrubbed(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers") or [])
            if headers.get(b"content-type", b"").startswith(b"application/json"):
                state["start"] = message
                return
        elif message["type"] == "http.response.body" and state["start"] is not None:
            state["body"].append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _scrub_json(b"".join(state["body"]))
            start = state["start"]
            headers = [(k, v) for k, v in start.get("headers") or [] if k != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length",
                                                        str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return scrubbed


def _scrub_json(body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ("sql", "schema")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), ensure_ascii=False).encode()


def _strip(query: bytes) -> bytes:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k not in STRIPPED_ARGS]
    if len(kept) == len(pairs):
        return query
    return urlencode(kept, quote_via=quote).encode("latin-1")
