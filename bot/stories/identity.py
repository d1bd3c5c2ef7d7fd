"""Pure keys and fingerprints: canonical URLs, item keys, content hashes.

`canonical_url` is the *identity* of a link (used in item keys): it only removes what never
changes the page (tracking parameters, fragment, default port, case of scheme and host).
`story_url` goes further (drops www./m./amp. hosts, AMP paths, trailing slashes, http vs https)
and is only meant for grouping the same story seen through different URLs.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

# Query parameters that only say where a click came from. Matched on the lower-cased,
# percent-decoded name. Bare `ref` is deliberately kept: some sites use it for content
# (GitHub `?ref=<branch>`), and a wrongly stripped parameter would merge distinct items.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # ad-click ids
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "igshid", "igsh", "li_fat_id",
        # mail / marketing automation
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "vero_conv", "wt.mc_id", "cmpid",
        # referrer markers, incl. the ones Chinese portals and apps append
        "ref_src", "ref_url", "from", "spm", "scm", "share_source", "share_medium",
        "share_plat", "share_tag", "share_from", "share_session_id", "vd_source",
        "xsec_source", "sharer_shareid", "sharer_sharetime",
        # analytics of feed proxies (comScore, FeedBurner)
        "ns_mchannel", "ns_campaign", "ns_source", "ns_linkname", "ns_fee",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

# WeChat article URLs carry a dozen per-reader parameters; the article is __biz+mid+idx+sn.
_WECHAT_HOST = "mp.weixin.qq.com"
_WECHAT_KEEP: frozenset[str] = frozenset({"__biz", "mid", "idx", "sn", "s"})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_STORY_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.", "wap.")


def canonical_url(url: str, base: str | None = None) -> str | None:
    """Return the absolute http(s) identity of `url` without tracking noise, or None."""
    url = (url or "").strip()
    if not url:
        return None
    if base and not url.startswith(("https://", "http://")):  # urljoin is slow; skip if absolute
        url = urljoin(base.strip(), url)
    try:
        parts = urlsplit(url)
        if "@" in parts.netloc or ":" in parts.netloc:
            host, port = parts.hostname or "", parts.port
        else:  # the common case, without SplitResult's slower netloc re-parsing
            host, port = parts.netloc.lower(), None
    except ValueError:  # bad IPv6 literal or non-numeric port: not a usable link
        return None
    scheme = parts.scheme.lower()
    host = host.rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host  # .hostname drops an IPv6 literal's brackets
    if port not in (None, _DEFAULT_PORTS[scheme]):
        netloc = f"{netloc}:{port}"
    query = _clean_query(parts.query, host)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _clean_query(query: str, host: str) -> str:
    """Drop tracking parameters and sort the rest, keeping each pair's original encoding."""
    if not query:
        return ""
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair, host)]
    return "&".join(sorted(kept))


def _is_tracking(pair: str, host: str) -> bool:
    name = unquote_plus(pair.split("=", 1)[0]).strip().lower()
    if host == _WECHAT_HOST:
        return name not in _WECHAT_KEEP
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def story_url(url: str, base: str | None = None) -> str | None:
    """Return a looser URL for grouping one story across mirrors (AMP, mobile, www, slash)."""
    canon = canonical_url(url, base)
    if canon is None:
        return None
    parts = urlsplit(canon)
    host = parts.netloc
    for prefix in _STORY_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    path = parts.path
    for suffix in ("/amp/", "/amp", ".amp"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    if path.startswith("/amp/"):
        path = path[4:]
    query = "&".join(p for p in parts.query.split("&") if p and p.lower() not in ("amp", "amp=1"))
    return urlunsplit(("https", host, path.rstrip("/") or "/", query, ""))


def content_hash(*parts: str) -> str:
    """Return the SHA-1 hex digest of the parts, joined by a separator no text contains."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def item_key(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """Return an item's stable key: "g:<guid>", else "u:<canonical link>", else "h:<hash>"."""
    guid = (guid or "").strip()
    if guid:
        return f"g:{guid}"
    canon = canonical_url(link) if link else None
    if canon:
        return f"u:{canon}"
    return f"h:{content_hash(title, summary)}"
