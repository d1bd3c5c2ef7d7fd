"""`newsbot poll` over the 80 real captured feeds of ../shared/corpus/feeds, served locally."""

from __future__ import annotations

import io
import json
import sqlite3
import warnings
from pathlib import Path

import feedparser
import pytest

from tests.feedserver import Route
from tests.test_cli import SIMPLE_RULES, newsbot

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent")


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "MANIFEST.tsv")


def feedparser_entries(body: bytes) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(feedparser.parse(io.BytesIO(body)).entries)


def test_polling_every_corpus_feed_stores_at_least_95_percent_of_feedparser_items(tmp_path, feed_server):
    files = corpus_files()
    lines = ["defaults: {timeout: 20s}", "feeds:"]
    expected = 0
    for i, path in enumerate(files):
        body = path.read_bytes()
        expected += feedparser_entries(body)
        feed_server.routes[f"/{i}"] = Route(body=body, content_type="application/xml")
        lines.append(f"  - {{name: {json.dumps(path.name)}, url: '{feed_server.url(f'/{i}')}'}}")
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "llm.yaml").write_text(SIMPLE_RULES, encoding="utf-8")

    result = newsbot("poll", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr

    status = json.loads(newsbot("status", "--json", cwd=tmp_path).stdout)
    assert len(status) == len(files)
    assert all(row["last_ok"] or row["last_error"] for row in status), "every feed has a status"

    with sqlite3.connect(tmp_path / "data" / "newsbot.db") as conn:
        stored = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    assert stored >= 0.95 * expected, f"stored {stored} of feedparser's {expected} entries"
