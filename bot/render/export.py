"""Stories as files for analysts: CSV for spreadsheets, JSON Lines for scripts. Pure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from bot.store.stories import StoryExport

COLUMNS = ("story_id", "first_seen", "published", "title", "link", "sources", "outlets",
           "source_links", "entities", "lists")
# Excel opens a UTF-8 CSV as the local code page unless the file starts with a BOM: Chinese
# titles come out as mojibake. Scripts and most other tools want no BOM.
BOM = "\ufeff"


def _iso(moment: object) -> str:
    return moment.isoformat() if moment is not None else ""  # type: ignore[attr-defined]


def export_row(story: StoryExport) -> dict[str, object]:
    """One story as a flat record (lists stay lists; CSV joins them with "; ")."""
    return {
        "story_id": story.story_id,
        "first_seen": _iso(story.first_seen),
        "published": _iso(story.published),
        "title": story.title,
        "link": story.link or "",
        "sources": len(story.sources),
        "outlets": [s.feed for s in story.sources],
        "source_links": [s.link or "" for s in story.sources],
        "entities": list(story.entities),
        "lists": list(story.lists),
    }


def export_csv(stories: Sequence[StoryExport], *, bom: bool = False) -> str:
    """A CSV with a header row; multi-valued fields joined with "; "."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for story in stories:
        row = export_row(story)
        writer.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in row.items()})
    return (BOM if bom else "") + out.getvalue()


def export_jsonl(stories: Sequence[StoryExport]) -> str:
    """One JSON object per story and line."""
    return "".join(json.dumps(export_row(s), ensure_ascii=False) + "\n" for s in stories)
