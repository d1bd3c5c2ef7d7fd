"""parse_feed over the 80 captured real feeds in ../shared/corpus/feeds (skipped when absent).

Pins: no crash (only ParseError, and only for files that are not feeds), at least 95% of
feedparser's entries kept as distinct keys (overall and per feed), and mojibake repaired.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.errors import ParseError
from bot.ingest.parse import parse_feed
from bot.models import Feed, ParsedFeed

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
FILES = sorted(p for p in CORPUS.glob("*") if p.is_file() and p.name != "MANIFEST.tsv")

pytestmark = pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS}")


def manifest() -> dict[str, dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def is_not_a_feed(name: str) -> bool:
    return manifest()[name]["format"].startswith("html")


def parse_file(path: Path) -> ParsedFeed:
    feed = Feed(name=path.stem, url=f"https://corpus.test/{path.name}")
    return parse_feed(path.read_bytes(), feed=feed)


def feedparser_entries(path: Path) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feedparser's own deprecation noise is not ours
        # Sanitizing changes no entry count (checked on this corpus) and costs 40% of the time.
        result = feedparser.parse(
            io.BytesIO(path.read_bytes()), sanitize_html=False, resolve_relative_uris=False
        )
    return list(result.entries)


def has_content(entry: Any) -> bool:
    return any(dict.get(entry, k) for k in ("id", "link", "title", "summary", "content"))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, ParsedFeed | ParseError]:
    results: dict[str, ParsedFeed | ParseError] = {}
    for path in FILES:
        try:
            results[path.name] = parse_file(path)
        except ParseError as exc:
            results[path.name] = exc
    return results


def test_only_documents_that_are_not_feeds_raise_parse_error(
    outcomes: dict[str, ParsedFeed | ParseError],
) -> None:
    refused = {name for name, out in outcomes.items() if isinstance(out, ParseError)}
    assert refused == {name for name in outcomes if is_not_a_feed(name)}
    assert refused  # the corpus holds an HTML page: it must be refused, not parsed
    for name in refused:
        assert str(outcomes[name]) == "HTML page, not a feed"


def test_at_least_95_percent_of_feedparser_entries_are_kept(
    outcomes: dict[str, ParsedFeed | ParseError],
) -> None:
    theirs = ours = 0
    short: list[str] = []
    for path in FILES:
        out = outcomes[path.name]
        if isinstance(out, ParseError):
            continue
        entries = [e for e in feedparser_entries(path) if has_content(e)]
        keys = {item.key for item in out.items}
        assert len(keys) == len(out.items), f"{path.name}: duplicate keys"
        theirs += len(entries)
        ours += len(keys)
        if len(keys) < 0.95 * len(entries):
            short.append(f"{path.name}: {len(keys)}/{len(entries)}")
    assert theirs > 1000
    assert ours >= 0.95 * theirs
    assert short == []


def test_every_item_is_normalized(outcomes: dict[str, ParsedFeed | ParseError]) -> None:
    for name, out in outcomes.items():
        if isinstance(out, ParseError):
            continue
        for item in out.items:
            assert item.title == " ".join(item.title.split()), name
            assert "<p>" not in item.summary and "&amp;" not in item.summary, name
            assert item.link is None or item.link.startswith(("http://", "https://")), name
            assert item.published is None or item.published.utcoffset().total_seconds() == 0
            assert item.key[:2] in ("g:", "u:", "h:"), name


def test_json_feeds_and_a_gzipped_body_yield_items(
    outcomes: dict[str, ParsedFeed | ParseError],
) -> None:
    # feedparser 6.0 finds nothing in these; the manifest says how many items they hold.
    rows = manifest()
    for name, row in rows.items():
        if row["format"] in ("json", "rss2 (gzip)"):
            out = outcomes[name]
            assert isinstance(out, ParsedFeed), name
            assert len(out.items) == int(row["items"]), name


@pytest.mark.parametrize(
    ("name", "expected_word"),
    [
        ("spiegel_rss2_double_encoded_utf8.xml", "Kölner"),
        ("lemonde_rss2_double_encoded_utf8.xml", "Actualités"),
        ("yandex_news_moscow_double_encoded_utf8.xml", "Москва"),
        ("finanzen_net_declared_latin1_actually_utf8.xml", "für"),
    ],
)
def test_mojibake_and_mislabeled_utf8_read_as_the_real_text(
    outcomes: dict[str, ParsedFeed | ParseError], name: str, expected_word: str
) -> None:
    parsed = outcomes.get(name)
    if parsed is None:
        pytest.skip(f"{name} not in the corpus")
    assert isinstance(parsed, ParsedFeed)
    text = " ".join([parsed.title or ""] + [f"{i.title} {i.summary}" for i in parsed.items])
    assert expected_word in text
    assert "Ã" not in text and "Ð" not in text


def test_chinese_feeds_are_chinese(outcomes: dict[str, ParsedFeed | ParseError]) -> None:
    rows = manifest()
    for name, row in rows.items():
        out = outcomes.get(name)
        if row["language"] == "zh-CN" and isinstance(out, ParsedFeed):
            assert out.items, name
            langs = [i.lang for i in out.items]
            assert langs.count("zh") >= 0.9 * len(langs), (name, langs)
