"""The dashboard page: filters, three charts and two tables, from the canned queries.

Each panel runs the canned query of the same name (bot/web/queries.py) with the page's
filters, so the numbers behind a chart are one click away as CSV or JSON. A panel whose
query runs out of time says so; the others still show.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from datasette.database import QueryInterrupted
from datasette.utils.asgi import Response

from bot.web.catalog import Catalog
from bot.web.charts import days_between, paired_bars, stacked_days
from bot.web.privacy import DATABASE
from bot.web.queries import QUERIES

PERIODS = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "a year"))


def filters_of(args: Any, catalog: Catalog) -> dict[str, str]:
    """The page's filters from its query string; unknown values fall back to all."""
    days = args.get("days") or "30"
    list_id = args.get("list") or ""
    entity = args.get("entity") or ""
    return {"days": days if days in dict(PERIODS) else "30",
            "list": list_id if list_id in catalog.lists else "",
            "entity": entity if any(e.id == entity for e in catalog.entities) else ""}


async def _rows(datasette: Any, name: str, params: dict[str, str]) -> list[dict[str, Any]] | None:
    """The canned query's rows (None when it ran out of time)."""
    try:
        result = await datasette.get_database(DATABASE).execute(QUERIES[name]["sql"], params)
    except QueryInterrupted:
        return None
    return [dict(row) for row in result.rows]


def per_day_series(rows: list[dict[str, Any]], days: list[str], key: str,
                   value: str) -> dict[str, list[int]]:
    """Rows of (day, key, value) as one count per day for each key, zeros filled in."""
    index = {day: n for n, day in enumerate(days)}
    series: dict[str, list[int]] = {}
    for row in rows:
        counts = series.setdefault(str(row[key]), [0] * len(days))
        if row["day"] in index:
            counts[index[row["day"]]] += int(row[value] or 0)
    return series


def day_values(rows: list[dict[str, Any]], days: list[str], value: str) -> list[int]:
    """One column of per-day rows as a count per day of `days`, zeros filled in."""
    by_day = {row["day"]: int(row[value] or 0) for row in rows}
    return [by_day.get(day, 0) for day in days]


async def dashboard_page(request: Any, datasette: Any, catalog: Catalog) -> Response:
    """Render the dashboard for the filters in the request."""
    params = filters_of(request.args, catalog)
    today = datetime.now(UTC).date()
    days = days_between(today - timedelta(days=int(params["days"])), today)
    panels = ("stories_per_day", "top_entities", "alerts_per_day", "failing_feeds",
              "latest_events")
    # together: Datasette runs queries on a pool of threads; in turn, a page waits for the sum
    names = dict(zip(panels, await asyncio.gather(*(_rows(datasette, name, params)
                                                    for name in panels)), strict=True))
    charts = {}
    if names["stories_per_day"] is not None:
        series = per_day_series(names["stories_per_day"], days, "list", "stories")
        charts["stories_per_day"] = stacked_days(
            "Stories per day by watchlist",
            days, {catalog.lists.get(k, k): v for k, v in sorted(series.items())})
    if names["top_entities"] is not None:
        charts["top_entities"] = paired_bars(
            "Top entities, this week against last week",
            [(r["name"] or r["entity"], r["this_week"], r["last_week"])
             for r in names["top_entities"]], ("last 7 days", "the 7 days before"))
    if names["alerts_per_day"] is not None:
        rows = names["alerts_per_day"]
        charts["alerts_per_day"] = stacked_days("Alert messages per day", days, {
            "messages sent": day_values(rows, days, "messages_sent"),
            "messages failed": day_values(rows, days, "messages_failed")})
        alerts_total = sum(r["alerts"] for r in rows)
        sent_total = sum(r["messages_sent"] for r in rows)
        failed_total = sum(r["messages_failed"] for r in rows)
    else:
        alerts_total = sent_total = failed_total = 0
    query_string = urlencode({k: v for k, v in params.items() if v})
    context = {
        "params": params, "periods": PERIODS, "catalog": catalog, "charts": charts,
        "failing": names["failing_feeds"], "latest": names["latest_events"],
        "alerts_total": alerts_total, "sent_total": sent_total, "failed_total": failed_total,
        "queries": QUERIES, "query_string": query_string,
        "db_url": datasette.urls.database(DATABASE), "since": _first(days),
    }
    return Response.html(await datasette.render_template(
        "newsbot_dashboard.html", context, request=request))


def _first(days: list[str]) -> str:
    return days[0] if days else date.today().isoformat()
