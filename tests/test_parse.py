"""parse_feed: golden files in tests/feeds/<case>/, hostile bodies, and the text folding.

Golden cases: `feed.xml` (or `feed.json`), optional `params.json` ({"base_url", "headers",
"feed_lang"}), and `expected.json`. To rewrite the expected files after a deliberate change:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_parse.py

Each rewritten case is reported as skipped ("golden file rewritten"); review `git diff`.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ParseError
from bot.ingest.parse import SUMMARY_MAX, detect_lang, normalize_text, parse_feed, truncate
from bot.models import Feed, Item, ParsedFeed

FEEDS_DIR = Path(__file__).resolve().parent / "feeds"
CASES = sorted(p.name for p in FEEDS_DIR.iterdir() if p.is_dir())


def a_feed(name: str = "test", lang: str | None = None) -> Feed:
    return Feed(name=name, url="https://feeds.example.com/feed.xml", lang=lang)


def rss(items: str, channel: str = "<title>t</title>") -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
    return f"{head}<channel>{channel}{items}</channel></rss>".encode()


def item_as_json(item: Item) -> dict[str, Any]:
    return {
        "key": item.key,
        "feed": item.feed,
        "title": item.title,
        "summary": item.summary,
        "link": item.link,
        "published": item.published.isoformat() if item.published else None,
        "lang": item.lang,
        "guid": item.guid,
    }


def parsed_as_json(parsed: ParsedFeed) -> dict[str, Any]:
    # The bozo text comes from expat/sgmllib and may change between versions: pin only whether.
    return {
        "title": parsed.title,
        "lang": parsed.lang,
        "bozo": parsed.bozo is not None,
        "ttl": parsed.ttl,
        "items": [item_as_json(i) for i in parsed.items],
    }


def parse_case(case: str) -> ParsedFeed:
    case_dir = FEEDS_DIR / case
    body_path = next(case_dir.glob("feed.*"))
    params_path = case_dir / "params.json"
    params = json.loads(params_path.read_text("utf-8")) if params_path.exists() else {}
    return parse_feed(
        body_path.read_bytes(),
        feed=a_feed(case, params.get("feed_lang")),
        headers=params.get("headers"),
        base_url=params.get("base_url"),
    )


# --- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_feed_parses_to_its_golden_items(case: str) -> None:
    actual = parsed_as_json(parse_case(case))
    expected_path = FEEDS_DIR / case / "expected.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", "utf-8")
        pytest.skip(f"golden file rewritten: {expected_path} (review the diff)")
    assert expected_path.exists(), f"no {expected_path}; create it with UPDATE_GOLDEN=1"
    assert actual == json.loads(expected_path.read_text("utf-8"))


def test_every_golden_case_has_an_expected_file() -> None:
    missing = [c for c in CASES if not (FEEDS_DIR / c / "expected.json").exists()]
    assert missing == []


# The golden files pin everything; the tests below name the behaviours they contain.


def by_title(parsed: ParsedFeed) -> dict[str, Item]:
    return {i.title: i for i in parsed.items}


def test_published_is_converted_to_utc() -> None:
    items = parse_case("rss_guid_dates_tracking").items
    assert items[0].published == datetime(2025, 3, 3, 2, 30, tzinfo=UTC)
    assert items[1].published == datetime(2025, 3, 5, 4, 15, tzinfo=UTC)


def test_guid_is_the_key_and_tracking_parameters_leave_the_link() -> None:
    first, second = parse_case("rss_guid_dates_tracking").items
    assert first.key == "g:ernie-45"
    assert first.link == "https://news.example.com/ai/ernie?b=2&id=42"
    assert second.key == "u:http://news.example.com/ai/moonshot"


def test_updated_only_entries_get_a_date_without_a_deprecation_warning() -> None:
    # filterwarnings=error turns feedparser's issue-310 DeprecationWarning into a failure.
    items = parse_case("atom_updated_only_xml_lang").items
    assert items[0].published == datetime(2025, 5, 5, 5, 5, 5, tzinfo=UTC)
    assert items[1].published == datetime(2025, 5, 4, tzinfo=UTC)


def test_items_without_guid_or_link_still_get_distinct_keys() -> None:
    parsed = parse_case("missing_guids_links_dates")
    keys = [i.key for i in parsed.items]
    assert len(keys) == len(set(keys))
    titles = by_title(parsed)
    assert titles["Only a link"].key == "u:https://example.com/a"
    assert titles["Only text"].key.startswith("h:")
    assert titles[""].summary == "No title either, just a description."
    assert titles["Bad date"].published is None


def test_repeated_guid_is_one_item_and_shared_links_stay_two_items() -> None:
    titles = by_title(parse_case("missing_guids_links_dates"))
    assert "Repeated guid, second copy" not in titles
    one, two = titles["Homepage link one"], titles["Homepage link two"]
    assert one.key == "u:https://example.com/"
    assert two.key.startswith("h:")


def test_relative_links_resolve_against_xml_base_then_base_url() -> None:
    atom = parse_case("relative_links_xml_base").items
    assert [i.link for i in atom] == [
        "https://blog.example.org/2025/01/02/hello/",
        "https://other.example.net/sub/post.html",
    ]
    rss_items = by_title(parse_case("rss_relative_links_base_url"))
    assert rss_items["Relative item"].link == "https://site.example.com/news/1.html"
    assert rss_items["Not http"].link is None
    assert rss_items["Mail link"].link is None


def test_html_in_titles_becomes_plain_text() -> None:
    titles = [i.title for i in parse_case("html_in_titles").items]
    assert titles[:4] == [
        'Bold claim "quoted"',
        "₹ 5 crore for AI & more",
        "37 – Spectre & Meltdown",
        "AT&T says x < y and 3<5",
    ]
    assert titles[4] == "Spaces and tabs everywhere"
    assert titles[5] == "Zerowidth softhyphen"


def test_scripts_styles_and_comments_are_not_summary_text() -> None:
    spaces = by_title(parse_case("html_in_titles"))["Spaces and tabs everywhere"]
    assert spaces.summary == "Visible text"


def test_mislabeled_and_legacy_encodings_decode_to_the_right_text() -> None:
    assert parse_case("declared_latin1_actually_utf8").items[0].title == "Kursziel für NVIDIA"
    assert parse_case("declared_latin1_really_latin1").items[0].title == (
        "Größte Vorbestellung für Tesla-Trucks"
    )
    assert parse_case("gb2312_chinese").items[1].title == "阿里巴巴通义千问更新"
    assert parse_case("windows1251_cyrillic").items[0].title == "Яндекс представил нейросеть"


def test_full_width_characters_fold_under_nfkc() -> None:
    assert parse_case("gb2312_chinese").items[0].title == "百度发布文心大模型4.5(全角)"


def test_double_encoded_utf8_is_repaired_but_real_accents_are_kept() -> None:
    parsed = parse_case("double_encoded_utf8")
    assert parsed.title == "Actualités"
    assert parsed.items[0].title == "Führende KI-Firmen in Köln"
    assert parsed.items[0].summary == "Der Analyst erhöht das Kursziel – „Buy“."
    assert parsed.items[1].summary == "Real accents must stay: Ärger über Ã alone."


def test_malformed_xml_keeps_its_items_and_records_bozo() -> None:
    parsed = parse_case("malformed_xml_recovered")
    assert parsed.bozo
    assert [i.key for i in parsed.items] == ["g:m1", "g:m2"]


def test_language_order_entry_then_feed_then_config_then_script() -> None:
    atom = parse_case("atom_updated_only_xml_lang")
    assert atom.lang == "zh"
    assert [i.lang for i in atom.items] == ["zh", "en"]
    assert [i.lang for i in parse_case("no_language_detected").items] == ["zh", "en", None, "ja"]
    assert [i.lang for i in parse_case("json_feed").items] == ["en", "en", "en"]
    unlabeled = rss("<item><title>Bonjour</title><link>https://e.fr/</link></item>")
    assert parse_feed(unlabeled, feed=a_feed(lang="fr-FR")).items[0].lang == "fr"


def test_chinese_text_declared_english_is_chinese() -> None:
    items = parse_case("chinese_declared_english").items
    assert [i.lang for i in items] == ["zh", "en"]


def test_long_summaries_are_cut_at_a_word_boundary() -> None:
    english, chinese = parse_case("long_summary_truncated").items
    assert len(english.summary) <= SUMMARY_MAX
    assert english.summary.endswith("…")
    assert english.summary[:-1].split(" ")[-1].startswith("word")
    assert len(english.summary[:-1].split(" ")[-1]) == len("word0000")
    assert len(chinese.summary) == SUMMARY_MAX


def test_json_feed_items_are_read() -> None:
    parsed = parse_case("json_feed")
    assert parsed.title == "JSON / feed"
    first, second, third = parsed.items
    assert (first.key, first.title, first.summary) == ("g:1", "First post", "Hello & welcome")
    assert first.link == "https://json.example.com/posts/1"
    assert first.published == datetime(2025, 2, 3, 3, 5, 6, tzinfo=UTC)
    assert (second.key, second.link) == ("g:2", "https://json.example.com/posts/2")
    assert third.key.startswith("h:")


def test_a_feed_with_no_items_is_an_empty_feed_not_an_error() -> None:
    parsed = parse_case("empty_channel_with_bom")
    assert (parsed.items, parsed.title, parsed.lang) == ([], "Nothing yet", "en")


def test_items_carry_the_feed_name() -> None:
    parsed = parse_feed(rss("<item><title>x</title></item>"), feed=a_feed("SCMP Tech"))
    assert parsed.items[0].feed == "SCMP Tech"


# --- hostile bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_body_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="^empty body$"):
        parse_feed(body, feed=a_feed())


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b'<head><title>Document Moved</title></head><body><h1>Object Moved</h1></body>',
        b"\n\n  <HTML><BODY>Just a page</BODY></HTML>",
    ],
)
def test_html_page_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="^HTML page, not a feed$"):
        parse_feed(body, feed=a_feed())


def test_random_bytes_are_a_parse_error() -> None:
    rng = random.Random(20250301)
    for _ in range(20):
        with pytest.raises(ParseError, match=r"^not a feed \("):
            parse_feed(rng.randbytes(2048), feed=a_feed())


@pytest.mark.parametrize("body", [b"{}", b'{"items": 3}', b"{not json", b"[1, 2]", b"plain text"])
def test_other_documents_are_not_feeds(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a feed"):
        parse_feed(body, feed=a_feed())


def test_a_body_that_is_a_path_is_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret-feed.xml"
    secret.write_bytes(rss("<item><title>SECRET FROM DISK</title></item>"))
    for body in (str(secret).encode(), f"file://{secret}".encode()):
        with pytest.raises(ParseError):
            parse_feed(body, feed=a_feed())


QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><rss version="2.0"><channel><title>t</title><item><title>'
    + b"&a;" * 50_000
    + b"</title></item></channel></rss>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    + b"</item></channel></rss>"
)


@pytest.mark.parametrize("body", [QUADRATIC_BLOWUP, BILLION_LAUGHS], ids=["quadratic", "laughs"])
def test_entity_expansion_documents_are_defused(body: bytes) -> None:
    started = time.perf_counter()
    parsed = parse_feed(body, feed=a_feed())
    assert time.perf_counter() - started < 5
    assert all(len(i.title) < 1000 for i in parsed.items)


def test_external_entities_do_not_read_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>a &xxe; b</title>'
        "<link>https://e.com/1</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, feed=a_feed())
    assert "TOP-SECRET" not in repr(parsed)


def test_unterminated_doctype_is_a_parse_error() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x"' + b"<rss>" * 10
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(body, feed=a_feed())


def test_a_doctype_quoted_in_an_items_cdata_is_text_not_a_prolog() -> None:
    """A web-development blog quotes HTML: `<!DOCTYPE` inside CDATA must not break the feed."""
    body = rss(
        "<item><title>Write valid HTML5</title><link>https://e.com/html5</link>"
        "<description><![CDATA[ Start every page with <!DOCTYPE html> ]]></description></item>"
        "<item><title>Second post</title><link>https://e.com/2</link>"
        "<description><![CDATA[ <!DOCTYPE ]]></description></item>"
    )
    parsed = parse_feed(body, feed=a_feed())
    assert parsed.bozo is None
    assert [i.title for i in parsed.items] == ["Write valid HTML5", "Second post"]
    assert "<!DOCTYPE html>" in parsed.items[0].summary


def test_a_prolog_doctype_after_comments_and_stray_text_is_still_stripped() -> None:
    """The bomb is defused wherever the prolog puts it: after a comment, a PI, even junk."""
    bomb = QUADRATIC_BLOWUP.replace(
        b'<?xml version="1.0"?>',
        b'<?xml version="1.0"?>\n<!-- generator -->\n<?xml-stylesheet href="s.xsl"?>junk')
    started = time.perf_counter()
    parsed = parse_feed(bomb, feed=a_feed())
    assert time.perf_counter() - started < 5
    assert all(len(i.title) < 1000 for i in parsed.items)


def test_a_doctype_bomb_after_the_root_element_declares_nothing() -> None:
    """Outside the prolog a DOCTYPE is not stripped, and no parser expands what it declares."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><!DOCTYPE rss [<!ENTITY a "'
        + b"x" * 50_000
        + b'">]><channel><title>t</title><item><title>'
        + b"&a;" * 50_000
        + b"</title><link>https://e.com/1</link></item></channel></rss>"
    )
    started = time.perf_counter()
    try:
        parsed = parse_feed(body, feed=a_feed())
    except ParseError:
        return  # refused as not a feed: also safe
    assert time.perf_counter() - started < 5
    assert all("x" * 1000 not in i.title for i in parsed.items)


def test_gzip_body_left_compressed_by_the_transport_is_read() -> None:
    plain = rss("<item><title>zipped</title><link>https://e.com/z</link></item>")
    parsed = parse_feed(gzip.compress(plain), feed=a_feed())
    assert [i.title for i in parsed.items] == ["zipped"]


def test_gzip_bomb_is_a_parse_error() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (40 * 1024 * 1024))
    with pytest.raises(ParseError, match="inflates beyond"):
        parse_feed(bomb, feed=a_feed())


def test_http_charset_header_is_honoured() -> None:
    body = '<rss version="2.0"><channel><item><title>Привет</title></item></channel></rss>'
    parsed = parse_feed(
        body.encode("koi8-r"),
        feed=a_feed(),
        headers={"Content-Type": "application/rss+xml; charset=KOI8-R"},
    )
    assert parsed.items[0].title == "Привет"


# --- text folding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("", ""),
        ("plain", "plain"),
        ("<p>a</p><p>b</p>", "a b"),
        ("a<br>b", "a b"),
        ("in<b>line</b>", "inline"),
        ("&amp;quot;x&amp;quot;", '"x"'),
        ("&lt;i&gt;escaped&lt;/i&gt; markup", "escaped markup"),
        ("x < y > z", "x < y > z"),
        ("Ｈｅｌｌｏ　ＡＩ", "Hello AI"),
        ("f\u00c3\u00bchrende", "führende"),
        ("na\u00efve caf\u00e9", "naïve café"),
        ("tab\tnew\nline\u3000ideographic", "tab new line ideographic"),
        ("<![CDATA[inside]]>", "inside"),
    ],
)
def test_normalize_text(raw: str, plain: str) -> None:
    assert normalize_text(raw) == plain


def test_truncate_keeps_short_text_and_cuts_long_text() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("alpha beta gamma delta", 12) == "alpha beta…"
    assert truncate("人" * 20, 10) == "人" * 9 + "…"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("DeepSeek releases a new model", "en"),
        ("深度求索发布新模型", "zh"),
        ("OpenAI 发布 GPT-5 模型", "zh"),
        ("Baidu (百度) launches Ernie 4.5 for enterprise customers", "en"),
        ("ソフトバンクとOpenAI", "ja"),
        ("네이버 하이퍼클로바", "ko"),
        ("Новая модель", None),
        ("12345 !!!", None),
    ],
)
def test_detect_lang_by_script(text: str, lang: str | None) -> None:
    assert detect_lang(text) == lang
