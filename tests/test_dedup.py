"""dedup: canonical URLs, story URLs, item keys and content hashes."""

from __future__ import annotations

import hashlib

import pytest

from bot.stories.identity import canonical_url, content_hash, item_key, story_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://Example.COM/a/B", "https://example.com/a/B"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a/"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
    ],
)
def test_canonical_url_normalizes_scheme_host_port_and_fragment(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://e.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://e.com/a"),
        ("https://e.com/a?UTM_Source=rss&id=3", "https://e.com/a?id=3"),
        ("https://e.com/a?fbclid=1&gclid=2&msclkid=3&yclid=4&igshid=5", "https://e.com/a"),
        ("https://e.com/a?mc_cid=1&mc_eid=2&_hsenc=3&_hsmi=4", "https://e.com/a"),
        ("https://e.com/a?from=timeline&spm=a2c4g.1&scm=1", "https://e.com/a"),
        ("https://e.com/a?ref_src=twsrc&ref=main", "https://e.com/a?ref=main"),
        ("https://e.com/a?z=1&a=2&m=3", "https://e.com/a?a=2&m=3&z=1"),
        ("https://e.com/a?q=hello%20world&utm_source=x", "https://e.com/a?q=hello%20world"),
        ("https://e.com/a?flag&b=", "https://e.com/a?b=&flag"),
        ("https://e.com/a?", "https://e.com/a"),
    ],
)
def test_canonical_url_removes_tracking_parameters_and_sorts_the_rest(
    url: str, canonical: str
) -> None:
    assert canonical_url(url) == canonical


def test_wechat_article_keeps_only_the_article_identity() -> None:
    url = (
        "https://mp.weixin.qq.com/s?__biz=MzA3&mid=2650&idx=1&sn=abc&chksm=84&scene=21"
        "&sessionid=9&key=secret&ascene=1#wechat_redirect"
    )
    assert canonical_url(url) == "https://mp.weixin.qq.com/s?__biz=MzA3&idx=1&mid=2650&sn=abc"


@pytest.mark.parametrize(
    ("url", "base", "canonical"),
    [
        ("/news/1", "https://site.com/feed.xml", "https://site.com/news/1"),
        ("2.html", "https://site.com/news/feed.xml", "https://site.com/news/2.html"),
        ("//cdn.site.com/x", "https://site.com/", "https://cdn.site.com/x"),
        ("https://other.com/y", "https://site.com/", "https://other.com/y"),
    ],
)
def test_canonical_url_joins_relative_links_with_the_base(
    url: str, base: str, canonical: str
) -> None:
    assert canonical_url(url, base) == canonical


@pytest.mark.parametrize(
    "url",
    ["", "   ", "/relative/without/base", "mailto:a@b.c", "javascript:alert(1)", "ftp://e.com/f",
     "https://", "http://e.com:notaport/", "http://[::1/"],
)
def test_canonical_url_rejects_what_is_not_an_absolute_http_link(url: str) -> None:
    assert canonical_url(url) is None


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTP://E.com:80/a/?b=2&utm_x=1&a=1#f")
    assert once == "http://e.com/a/?a=1&b=2"
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.site.com/story/1", "http://site.com/story/1/"),
        ("https://m.site.com/story/1?utm_source=x", "https://site.com/story/1"),
        ("https://site.com/story/1/amp/", "https://www.site.com/story/1"),
        ("https://amp.site.com/story/1", "https://site.com/story/1"),
    ],
)
def test_story_url_merges_mirrors_of_one_story(a: str, b: str) -> None:
    assert story_url(a) == story_url(b)


def test_story_url_keeps_distinct_stories_apart() -> None:
    assert story_url("https://site.com/story/1") != story_url("https://site.com/story/2")
    assert story_url("https://www.co.uk/") != story_url("https://co.uk/x")
    assert story_url("mailto:x@y.z") is None


def test_item_key_prefers_the_guid_stripped() -> None:
    assert item_key("  urn:uuid:1 \n", "https://e.com/a", "t", "s") == "g:urn:uuid:1"


def test_item_key_falls_back_to_the_canonical_link() -> None:
    assert item_key(None, "https://E.com/a?utm_source=x", "t", "s") == "u:https://e.com/a"
    assert item_key("   ", "https://e.com/a", "t", "s") == "u:https://e.com/a"


def test_item_key_falls_back_to_the_content_hash() -> None:
    key = item_key(None, None, "Title", "Summary")
    assert key == "h:" + hashlib.sha1("Title\x1fSummary".encode()).hexdigest()
    assert item_key("", "mailto:x@y.z", "Title", "Summary") == key


def test_content_hash_separates_its_parts() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("标题", "摘要") == content_hash("标题", "摘要")
    assert len(content_hash()) == 40
