"""The README's pictures, drawn from real headlines: the labeled events set
(../shared/eval/events_dev.jsonl: real reports by real outlets, with their publish times),
recorded through the bot's own path (matching, event stories) into a temporary store.

    .venv/bin/python bench/readme_charts.py        # writes docs/trends.png, docs/weekly.png

Then the charts are what `/trends 90d` and a `/weekly` brief would have shown in early 2025:
stories (events, not items) per entity, and the week of DeepSeek-R1's release.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.events import DATA, REPO, load_events, production, record  # noqa: E402
from bot.run.weekly import draw_brief, gather_brief  # noqa: E402
from bot.schedule import week_label  # noqa: E402
from bot.store.subscribers import Subscriber  # noqa: E402
from bot.store.weekly import DueBrief  # noqa: E402
from bot.telegram.trends import trend_chart  # noqa: E402

DOCS = REPO / "docs"
QUARTER_END = datetime(2025, 3, 31, 12, tzinfo=UTC)
# Monday 3 February 2025, 09:00 in Shanghai: the brief of 27 January – 2 February
BRIEF_AT = datetime(2025, 2, 3, 1, 0, tzinfo=UTC)


def main() -> int:
    if not DATA.is_file():
        print(f"events file not found at {DATA}", file=sys.stderr)
        return 2
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, production(REPO / "rules", Path(tmp) / "db") as rt:
        record(load_events(DATA), rt)
        watchlists = rt.config.watchlists
        trend, png = trend_chart(rt.store, watchlists, 90, None, (), QUARTER_END)
        assert png is not None, "no stories in the quarter"
        (DOCS / "trends.png").write_bytes(png)
        print(f"docs/trends.png: {len(png):,} bytes; " + "; ".join(
            f"{s.name} {s.total}" for s in trend.series))
        chat = Subscriber(chat_id=0, kind="private", title=None, active=True, weekly_day=0,
                          weekly_at="09:00", weekly_tz="Asia/Shanghai")
        due = DueBrief(chat, BRIEF_AT, week_label(BRIEF_AT, "Asia/Shanghai"))
        caption, chart = draw_brief(gather_brief(rt.store, watchlists, due))
        assert chart is not None, "no stories in the brief's week"
        (DOCS / "weekly.png").write_bytes(chart)
        print(f"docs/weekly.png: {len(chart):,} bytes; its caption:\n{caption.plain}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
