"""Bytes of a feed → normalized `Item`s. Pure and blocking: call it off the event loop.

feedparser only ever sees a `BytesIO` (given a str/bytes that looks like a path it would open a
local file), with any `<!DOCTYPE …>` removed first (its loose fallback parser expands
quadratic-blowup entities). JSON Feed (which feedparser 6.0 does not read) is parsed with `json`.

Language codes are reduced to the primary subtag, lower-cased: "zh-CN", "zh-TW" and "zh-Hant"
all become "zh", "en_US" becomes "en" — the matcher folds Traditional/Simplified itself.
"""

from __future__ import annotations

import calendar
import html
import io
import json
import re
import unicodedata
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.errors import ParseError
from bot.models import Feed, Item, ParsedFeed
from bot.stories.identity import canonical_url, content_hash, item_key
from bot.stories.keys import StoryKeys, item_story_keys

SUMMARY_MAX = 2000
TITLE_MAX = 500
MAX_GUNZIPPED = 32 * 1024 * 1024
# Longer HTML than this cannot add anything to a 2,000-character summary: cut before stripping.
_HTML_MAX = 64 * 1024

_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_DOCTYPE_START = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# The root element's start tag: what ends the prolog (as feedparser's own replace_doctype
# sees it, so that whatever it would read entities from is what we clean).
_FIRST_TAG = re.compile(rb"<[A-Za-z_:]")
_HTML_TAG = re.compile(rb"<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)

_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<!\[CDATA\[|\]\]>", re.DOTALL)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|tr|td|th|table|h[1-6]|blockquote|pre|section|article|figure"
    r"|figcaption|header|footer|dd|dt|hr|img)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_CUT_TAG = re.compile(r"<[^<>]*$")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")
# Invisible characters that survive NFKC and split words for the matcher.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# UTF-8 read as cp1252/latin-1: a lead byte Â..ô followed by a continuation-byte character.
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d"
                       "\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026"
                       "\u2030\u2039\u203a\u20ac\u2122]")
# cp1252's printable 0x80–0x9F characters back to the byte they came from (as latin-1 chars).
_CP1252_BACK = {
    ord(bytes([b]).decode("cp1252")): chr(b)
    for b in range(0x80, 0xA0)
    if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")
_ANY_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_CJK_LANGS = ("zh", "ja", "ko")
_LANG_SAMPLE = 300


def parse_feed(
    body: bytes,
    *,
    feed: Feed,
    headers: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> ParsedFeed:
    """Parse a feed body into normalized items; raise ParseError when it is not a feed."""
    data = _prepare(body)
    base = base_url or feed.url
    if data.lstrip()[:1] == b"{":
        return _parse_json_feed(data, feed=feed, base=base)
    result = _run_feedparser(data, headers)
    entries = result.get("entries") or []
    if not entries and not result.get("version"):
        raise ParseError(_not_a_feed_reason(data, result))
    channel = result.get("feed") or {}
    feed_lang = _short_lang(dict.get(channel, "language")) or _short_lang(
        (dict.get(channel, "title_detail") or {}).get("language")
    )
    default_lang = feed_lang or _short_lang(feed.lang)
    items = _unique(_entry_to_item(e, feed=feed, base=base, default_lang=default_lang)
                    for e in entries)
    return ParsedFeed(
        items=items,
        title=normalize_text(dict.get(channel, "title") or "") or None,
        lang=feed_lang or _short_lang(feed.lang),
        bozo=_bozo_text(result),
        ttl=_ttl(dict.get(channel, "ttl")),
    )


def normalize_text(html_or_text: str) -> str:
    """Return plain text: tags stripped, entities decoded (even double-escaped), NFKC, folded."""
    text = html_or_text or ""
    if "<" in text:
        text = _strip_tags(text)
    if "&" in text:
        text = html.unescape(text)
        if "&" in text and _ENTITY.search(text):  # double-escaped: "&amp;quot;" → "&quot;"
            text = html.unescape(text)
        if "<" in text and _TAG.search(text):  # escaped markup, "&lt;b&gt;", is markup too
            text = _strip_tags(text)
    if not text.isascii():
        text = _INVISIBLE.sub("", _repair_mojibake(text))
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def _strip_tags(text: str) -> str:
    if len(text) > _HTML_MAX:
        text = _CUT_TAG.sub("", text[:_HTML_MAX])
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    text = _BLOCK_TAG.sub(" ", text)
    return _TAG.sub("", text)


def _repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as cp1252/latin-1 ("fÃ¼hrende" → "führende"), if it is that."""
    if not _MOJIBAKE.search(text):
        return text
    try:
        return text.translate(_CP1252_BACK).encode("latin-1").decode("utf-8")
    except UnicodeError:  # not pure mojibake (real accents, other scripts): leave it alone
        return text


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:  # CJK text has no spaces: then cut mid-run
        cut = cut[:space]
    return cut.rstrip() + "…"


def detect_lang(text: str) -> str | None:
    """Guess a language from the script mix: "zh"/"ja"/"ko" for CJK, "en" for Latin, else None."""
    sample = text[:_LANG_SAMPLE]
    if sample.isascii():
        return "en" if any(c.isalpha() for c in sample) else None
    han = len(_HAN.findall(sample))
    kana = len(_KANA.findall(sample))
    hangul = len(_HANGUL.findall(sample))
    latin = len(_LATIN.findall(sample))
    # One ideograph carries about a word: weigh it against ~3 Latin letters.
    if kana and (kana + han) * 3 >= latin:
        return "ja"
    if hangul and hangul * 3 >= latin:
        return "ko"
    if han and han * 3 >= latin:
        return "zh"
    letters = len(_LETTER.findall(sample))
    return "en" if latin and latin * 2 > letters else None


def _prepare(body: bytes) -> bytes:
    """Refuse empty bodies, undo a stray gzip layer, and remove DOCTYPEs (entity bombs)."""
    if not body or not body.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise ParseError("empty body")
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body)
    return _strip_doctype(body)


def _strip_doctype(body: bytes) -> bytes:
    """Remove the DOCTYPE of the prolog, where entities (and entity bombs) are declared.

    Only the prolog, before the root element: a `<!DOCTYPE` inside an item (a web-development
    blog quoting HTML in CDATA) is text, and cutting it would break the feed.
    """
    while True:
        root = _FIRST_TAG.search(body)
        start = _DOCTYPE_START.search(body, 0, root.start() if root else len(body))
        if start is None:
            return body
        doctype = _DOCTYPE.match(body, start.start())
        if doctype is None:  # an unterminated internal subset is never a feed
            raise ParseError("not a feed (unterminated DOCTYPE)")
        body = body[: start.start()] + body[doctype.end():]


def _gunzip(body: bytes) -> bytes:
    """Decompress a gzip body the transport did not decode, within MAX_GUNZIPPED."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, MAX_GUNZIPPED)
    except zlib.error as exc:
        raise ParseError(f"not a feed (broken gzip body: {exc})") from exc
    if inflater.unconsumed_tail:
        raise ParseError(f"not a feed (gzip body inflates beyond {MAX_GUNZIPPED} bytes)")
    if not data.strip():
        raise ParseError("empty body")
    return data


def _run_feedparser(data: bytes, headers: Mapping[str, str] | None) -> Any:
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    # No Content-Location default: with one, feedparser urljoins every element (+20% time).
    # xml:base still applies; links left relative are joined with `base` in _entry_link.
    # Without a Content-Type feedparser records a NonXMLContentType bozo for every feed; this
    # default decodes exactly as no headers at all (same encodings on the whole corpus).
    response_headers.setdefault("content-type", "application/xml")
    # We strip all markup ourselves, so feedparser's sanitizer and in-HTML URI rewriting are
    # wasted work (together ~55% of its time on the corpus).
    try:
        return feedparser.parse(
            io.BytesIO(data),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except (MemoryError, RecursionError) as exc:
        raise ParseError(f"not a feed (parser gave up: {type(exc).__name__})") from exc


def _not_a_feed_reason(data: bytes, result: Any) -> str:
    if _HTML_TAG.search(data, 0, 4096):
        return "HTML page, not a feed"
    return f"not a feed ({_bozo_text(result) or 'no RSS, Atom or RDF element'})"


def _bozo_text(result: Any) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    text = " ".join(f"{type(exc).__name__}: {exc}".split()) if exc else "malformed feed"
    return truncate(text, 200)


def _ttl(value: Any) -> int | None:
    try:
        ttl = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return ttl if ttl > 0 else None


def _short_lang(tag: Any) -> str | None:
    """Reduce a language tag to its primary subtag: "zh-CN" → "zh", "en_US" → "en"."""
    if not tag or not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if 2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha() else None


def _choose_lang(declared: str | None, title: str, summary: str) -> str | None:
    """The declared language, unless CJK text is declared as a non-CJK language (a common slip)."""
    sample = f"{title} {summary[:_LANG_SAMPLE]}"
    if declared is None:
        return detect_lang(sample)
    if declared in _CJK_LANGS or not _ANY_CJK.search(sample):  # nothing could contradict it
        return declared
    detected = detect_lang(sample)
    return detected if detected in _CJK_LANGS else declared


def _entry_to_item(entry: Any, *, feed: Feed, base: str, default_lang: str | None) -> Item:
    # dict.get bypasses FeedParserDict's issue-310 fallbacks, which warn (DeprecationWarning).
    title = truncate(normalize_text(dict.get(entry, "title") or ""), TITLE_MAX)
    summary = truncate(normalize_text(_summary_html(entry)), SUMMARY_MAX)
    link = _entry_link(entry, base)
    guid = (dict.get(entry, "id") or "").strip() or None
    entry_lang = _short_lang((dict.get(entry, "title_detail") or {}).get("language"))
    return Item(
        key=item_key(guid, link, title, summary),
        feed=feed.name,
        title=title,
        summary=summary,
        link=link,
        published=_published(entry),
        lang=_choose_lang(entry_lang or default_lang, title, summary),
        guid=guid,
    )


def _summary_html(entry: Any) -> str:
    summary = dict.get(entry, "summary")
    if summary and summary.strip():
        return summary
    for content in dict.get(entry, "content") or ():
        value = content.get("value") if isinstance(content, Mapping) else None
        if value and value.strip():
            return value
    return ""


def _entry_link(entry: Any, base: str) -> str | None:
    link = dict.get(entry, "link")
    if link and dict.get(entry, "guidislink") and not link.startswith(("http://", "https://")):
        # RSS guids are permalinks by default, so feedparser copies "item-123" into `link`;
        # joined with the feed URL that would be an invented address.
        link = None
    if not link:
        for candidate in dict.get(entry, "links") or ():
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    return canonical_url(link, base) if link else None


def _published(entry: Any) -> datetime | None:
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if not parsed:
        return None
    try:  # feedparser's struct_time is already UTC
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _unique(items: Any) -> list[Item]:
    """Keep one item per key. Distinct items that share a link fall back to their content hash.

    Items with no title, summary, link or GUID (debris of illegally nested <item>s) are dropped:
    there is nothing to match, show or link to.
    """
    by_key: dict[str, Item] = {}
    for item in items:
        if not (item.title or item.summary or item.link or item.guid):
            continue
        previous = by_key.get(item.key)
        if previous is None:
            by_key[item.key] = item
            continue
        if item.key.startswith("u:") and (previous.title, previous.summary) != (
            item.title, item.summary
        ):
            rekeyed = _with_key(item, f"h:{content_hash(item.title, item.summary)}")
            by_key.setdefault(rekeyed.key, rekeyed)
        # Same GUID, or same link and text, or same text and no link: the same item again.
    return list(by_key.values())


def _with_key(item: Item, key: str) -> Item:
    return Item(key=key, feed=item.feed, title=item.title, summary=item.summary, link=item.link,
                published=item.published, lang=item.lang, guid=item.guid)


# --- JSON Feed (https://jsonfeed.org/version/1.1) -------------------------------------------


def _parse_json_feed(data: bytes, *, feed: Feed, base: str) -> ParsedFeed:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed (invalid JSON: {truncate(str(exc), 120)})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("not a feed (JSON without an items list)")
    feed_lang = _short_lang(doc.get("language"))
    default_lang = feed_lang or _short_lang(feed.lang)
    base = _str(doc.get("home_page_url")) or base
    items = _unique(
        _json_item(raw, feed=feed, base=base, default_lang=default_lang)
        for raw in doc["items"]
        if isinstance(raw, dict)
    )
    return ParsedFeed(
        items=items,
        title=normalize_text(_str(doc.get("title"))) or None,
        lang=feed_lang or _short_lang(feed.lang),
    )


def _json_item(raw: dict[str, Any], *, feed: Feed, base: str, default_lang: str | None) -> Item:
    title = truncate(normalize_text(_str(raw.get("title"))), TITLE_MAX)
    body = (_str(raw.get("summary")) or _str(raw.get("content_text"))
            or _str(raw.get("content_html")))
    summary = truncate(normalize_text(body), SUMMARY_MAX)
    link_raw = _str(raw.get("url")) or _str(raw.get("external_url"))
    link = canonical_url(link_raw, base) if link_raw else None
    guid = _str(raw.get("id")).strip() or None
    when = _json_date(_str(raw.get("date_published")) or _str(raw.get("date_modified")))
    return Item(
        key=item_key(guid, link, title, summary),
        feed=feed.name,
        title=title,
        summary=summary,
        link=link,
        published=when,
        lang=_choose_lang(_short_lang(raw.get("language")) or default_lang, title, summary),
        guid=guid,
    )


def _str(value: Any) -> str:
    # JSON Feed 1.0 allowed numeric ids; anything else that is not text is ignored.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _json_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:  # RFC 3339 requires an offset; assume UTC rather than local time
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_with_story_keys(
    body: bytes, *, feed: Feed, headers: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> tuple[ParsedFeed, dict[str, StoryKeys]]:
    """Parse a body and key its items for story clustering (a parse worker's whole job).

    Story keys cost as much as storing the item; computed here, beside feedparser, they
    spread over the parse processes instead of the one process that writes the database.
    An item without a publication time gets `at=None`: the store fills in "first seen".
    """
    parsed = parse_feed(body, feed=feed, headers=headers, base_url=base_url)
    return parsed, {item.key: item_story_keys(item) for item in parsed.items}


def load_parser() -> None:
    """Run first in a new parse worker: unpickling this call imports the parser (feedparser
    and this module), so the first feed does not wait for the imports."""
