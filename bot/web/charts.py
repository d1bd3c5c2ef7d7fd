"""Charts drawn on the server as SVG (pure): bars per day, and pairs of bars per name.

Why not datasette-dashboards' Vega charts: its pages fetch their data with arbitrary SQL
(`db.json?sql=…`), which needs the execute-sql permission that this site must refuse. An SVG
drawn here needs no script, no 1 MB of Vega, shows in a screenshot, a printout and a page
saved to disk exactly as on screen, and its data is the same canned query (CSV/JSON linked).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16",
           "#ec4899")
WIDTH, HEIGHT = 640, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 30, 34


def days_between(first: date, last: date) -> list[str]:
    """Every day from first to last, as ISO text (the x axis of a per-day chart)."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _nice_max(value: float) -> int:
    """A round upper bound for an axis: 1, 2, 5, 10, 20, 50…"""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return max(1, step * m)
        step *= 10


def _svg(label: str, body: list[str], height: int = HEIGHT) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" '
            f'font-size="13"><title>{escape(label)}</title>{"".join(body)}</svg>')


def _legend(names: Sequence[str], colors: Sequence[str]) -> list[str]:
    out, x = [], _LEFT
    for name, color in zip(names, colors, strict=True):
        out.append(f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{color}"/>'
                   f'<text x="{x + 16}" y="18" fill="#374151">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return out


def _y_axis(top: int, plot_h: int, bottom_y: int) -> list[str]:
    """Grid lines at whole numbers: counts of stories have no halves."""
    steps = top if top <= 5 else 5 if top % 5 == 0 else 4
    out = []
    for k in range(steps + 1):
        value = top * k / steps
        y = bottom_y - plot_h * k / steps
        out.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e5e7eb"/><text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="#6b7280">{value:g}</text>')
    return out


def stacked_days(label: str, days: Sequence[str], series: dict[str, Sequence[int]]) -> str:
    """Bars per day, one colour per series stacked (e.g. stories per day by watchlist)."""
    names = list(series)
    colors = [PALETTE[n % len(PALETTE)] for n in range(len(names))]
    totals = [sum(series[name][d] for name in names) for d in range(len(days))]
    top = _nice_max(max(totals, default=0))
    plot_h, bottom_y = HEIGHT - _TOP - _BOTTOM, HEIGHT - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / max(1, len(days))
    body = [*_y_axis(top, plot_h, bottom_y), *_legend(names, colors)]
    label_every = max(1, round(len(days) / 10))
    for d, day in enumerate(days):
        x, y = _LEFT + d * slot + slot * 0.12, float(bottom_y)
        for name, color in zip(names, colors, strict=True):
            value = series[name][d]
            if value:
                h = plot_h * value / top
                y -= h
                body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" '
                            f'height="{h:.1f}" fill="{color}"><title>{escape(day)} '
                            f'{escape(name)}: {value}</title></rect>')
        if d % label_every == 0:
            body.append(f'<text x="{x + slot * 0.38:.1f}" y="{bottom_y + 16}" '
                        f'text-anchor="middle" fill="#6b7280">{escape(day[5:])}</text>')
    if not any(totals):
        body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
                    f'fill="#6b7280">nothing in this period</text>')
    return _svg(label, body)


def paired_bars(label: str, rows: Sequence[tuple[str, int, int]],
                legend: tuple[str, str]) -> str:
    """Two horizontal bars per name (e.g. stories this week and last week per entity)."""
    row_h, name_w = 26, 200
    height = _TOP + 10 + row_h * max(1, len(rows))
    top = _nice_max(max((max(a, b) for _, a, b in rows), default=0))
    plot_w = WIDTH - name_w - _RIGHT - 40
    colors = (PALETTE[0], "#9ca3af")
    body = _legend(list(legend), colors)
    for n, (name, now, before) in enumerate(rows):
        y = _TOP + 6 + n * row_h
        short = name if len(name) <= 26 else name[:25] + "…"
        body.append(f'<text x="{name_w - 8}" y="{y + 15}" text-anchor="end" '
                    f'fill="#111827">{escape(short)}<title>{escape(name)}</title></text>')
        for k, (value, color) in enumerate(((now, colors[0]), (before, colors[1]))):
            w = plot_w * value / top
            by = y + 2 + k * 11
            body.append(f'<rect class="bar" x="{name_w}" y="{by}" width="{w:.1f}" height="10" '
                        f'rx="2" fill="{color}"><title>{escape(name)}, {escape(legend[k])}: '
                        f'{value}</title></rect><text x="{name_w + w + 4:.1f}" y="{by + 9}" '
                        f'font-size="10" fill="#374151">{value}</text>')
    if not rows:
        body.append(f'<text x="{WIDTH / 2}" y="{_TOP + 20}" text-anchor="middle" '
                    f'fill="#6b7280">no entity named in the last two weeks</text>')
    return _svg(label, body, height)
