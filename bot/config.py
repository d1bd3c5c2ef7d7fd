"""Configuration: feeds.yaml (and, re-exported, the environment settings), read once.

Every mistake in feeds.yaml is reported as `FILE:LINE: message`; all of them at once, and
nothing half-loaded is returned. A valid feeds.yaml is also kept, parsed, in a small pickle
(see `load_feeds`): a thousand feeds take ~45 ms to compose and check, plus ~25 ms to import
PyYAML, at every start of `newsbot poll`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.cache import cache_dir, load_cached, store_cached
from bot.errors import ConfigError, Problem
from bot.models import FILING_KINDS, Feed, FilingSource
from bot.settings import Settings, env_settings, settings_from_env

__all__ = ["FeedsConfig", "Settings", "env_settings", "load_feeds", "parse_duration",
           "parse_feeds", "settings_from_env"]

DEFAULT_INTERVAL = 600.0
DEFAULT_TIMEOUT = 20.0
# Shorter intervals are allowed (local feeds, tests) but earn a warning.
MIN_POLITE_INTERVAL = 60.0
FEED_KEYS = {"name", "url", "lang", "interval", "timeout", "tags", "backfill", "kind",
             "filing_kind", "batch", "date", "format"}
# Keys of a filing list (`kind: filings`), meaningless for a news feed.
FILING_KEYS = ("filing_kind", "batch", "date", "format")
DEFAULT_KEYS = {"interval", "timeout", "lang", "backfill"}

if TYPE_CHECKING:
    import yaml

_CACHE_KEEP = 4  # parsed feeds files kept per cache dir
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class FeedsConfig:
    """feeds.yaml, validated. `warnings` are located but not fatal."""

    feeds: tuple[Feed, ...]
    warnings: tuple[Problem, ...] = ()


def parse_duration(value: object) -> float:
    """'30s', '10m', '1h', '1.5h' or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 10m, 1h)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 10m, 1h)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return seconds


def load_feeds(path: Path, *, cache: bool = True) -> FeedsConfig:
    """Read and validate feeds.yaml; raise ConfigError listing every problem.

    With `cache`, a valid result is kept in a pickle (see `bot.cache`) named by a hash of the
    file's name and bytes, of this code and of the Python version: any edit makes a new key,
    so a stale result is never used; a file with problems is never cached.
    """
    name = str(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, 0, f"cannot read: {exc}")]) from exc
    if not cache:
        return parse_feeds(text, name)
    cached_at = _cache_path(name, data)
    cached = load_cached(cached_at, FeedsConfig)
    if isinstance(cached, FeedsConfig):
        return cached
    config = parse_feeds(text, name)
    store_cached(cached_at, config, keep=_CACHE_KEEP)
    return config


def _cache_path(name: str, data: bytes) -> Path:
    digest = hashlib.sha256(f"feeds v1 {sys.version}\0{name}\0".encode())
    here = Path(__file__).resolve().parent
    for code in ("config.py", "models.py", "errors.py"):  # what the pickle is made of
        digest.update((here / code).read_bytes())
    digest.update(data)
    return cache_dir() / f"feeds-{digest.hexdigest()[:32]}.pickle"


def parse_feeds(text: str, filename: str = "feeds.yaml") -> FeedsConfig:
    """Validate feeds.yaml text; the pure half of load_feeds."""
    # Imported here: a start that finds feeds.yaml in the cache never needs PyYAML (~25 ms).
    global yaml
    import yaml

    # libyaml's composer keeps node marks (line numbers) and is ~10x faster than pure Python.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(filename, line, f"YAML syntax error: {problem}")]) from None
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if root is None or not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise ConfigError([Problem(filename, line, "expected a mapping with a 'feeds:' list")])

    top = _mapping(root)
    for key, (knode, _) in top.items():
        if key not in {"defaults", "feeds"}:
            problems.append(_at(filename, knode, f"unknown key {key!r} (expected defaults, feeds)"))

    defaults: dict[str, object] = {
        "interval": DEFAULT_INTERVAL,
        "timeout": DEFAULT_TIMEOUT,
        "lang": None,
        "backfill": "silent",
    }
    if "defaults" in top:
        _, dnode = top["defaults"]
        if not isinstance(dnode, yaml.MappingNode):
            problems.append(_at(filename, dnode, "'defaults' must be a mapping"))
        else:
            for key, (knode, vnode) in _mapping(dnode).items():
                if key not in DEFAULT_KEYS:
                    problems.append(
                        _at(filename, knode, f"unknown key {key!r} in defaults "
                            f"(allowed: {', '.join(sorted(DEFAULT_KEYS))})")
                    )
                    continue
                value, err = _field(key, vnode)
                if err:
                    problems.append(_at(filename, vnode, err))
                else:
                    defaults[key] = value

    feeds: list[Feed] = []
    if "feeds" not in top:
        problems.append(Problem(filename, 1, "missing 'feeds:' list"))
    else:
        _, fnode = top["feeds"]
        if not isinstance(fnode, yaml.SequenceNode):
            problems.append(_at(filename, fnode, "'feeds' must be a list of feeds"))
        else:
            names: dict[str, int] = {}
            urls: dict[str, int] = {}
            for entry in fnode.value:
                feed = _feed(entry, defaults, filename, problems, warnings)
                if feed is None:
                    continue
                if feed.name in names:
                    problems.append(
                        Problem(filename, feed.line,
                                f"duplicate feed name {feed.name!r} (first at line {names[feed.name]})")
                    )
                    continue
                if feed.url in urls:
                    problems.append(
                        Problem(filename, feed.line,
                                f"duplicate feed url {feed.url} (first at line {urls[feed.url]})")
                    )
                    continue
                names[feed.name] = feed.line
                urls[feed.url] = feed.line
                feeds.append(feed)
    if problems:
        raise ConfigError(problems)
    return FeedsConfig(feeds=tuple(feeds), warnings=tuple(warnings))


def _feed(
    node: yaml.Node,
    defaults: dict[str, object],
    filename: str,
    problems: list[Problem],
    warnings: list[Problem],
) -> Feed | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(filename, line, "each feed must be a mapping with name and url"))
        return None
    values = dict(defaults)
    values["tags"] = ()
    ok = True
    fields = _mapping(node)
    for key, (knode, vnode) in fields.items():
        if key not in FEED_KEYS:
            problems.append(
                _at(filename, knode, f"unknown key {key!r} (allowed: {', '.join(sorted(FEED_KEYS))})")
            )
            ok = False
            continue
        value, err = _field(key, vnode)
        if err:
            problems.append(_at(filename, vnode, err))
            ok = False
        else:
            values[key] = value
    for required in ("name", "url"):
        if required not in fields:
            problems.append(Problem(filename, line, f"feed is missing {required!r}"))
            ok = False
    filing = None
    if values.get("kind") == "filings":
        filing = FilingSource(
            kind=values.get("filing_kind", "deep-synthesis"),  # type: ignore[arg-type]
            batch=values.get("batch"), date=values.get("date"),  # type: ignore[arg-type]
            format=values.get("format"))  # type: ignore[arg-type]
        if "backfill" not in fields:  # a new batch is the news: its first poll alerts
            values["backfill"] = "alert"
    elif "kind" not in fields or values.get("kind") == "feed":
        for key in FILING_KEYS:
            if key in fields:
                problems.append(_at(filename, fields[key][0], f"{key!r} belongs to a filing "
                                    "list: add 'kind: filings' or remove it"))
                ok = False
    if not ok:
        return None
    interval = float(values["interval"])  # type: ignore[arg-type]
    if interval < MIN_POLITE_INTERVAL:
        warnings.append(
            Problem(filename, line, f"feed {values['name']!r}: interval {interval:g}s is shorter "
                    f"than {MIN_POLITE_INTERVAL:g}s; fine for local feeds, impolite for others")
        )
    return Feed(
        name=str(values["name"]),
        url=str(values["url"]),
        interval=interval,
        timeout=float(values["timeout"]),  # type: ignore[arg-type]
        lang=values["lang"],  # type: ignore[arg-type]
        tags=tuple(values["tags"]),  # type: ignore[arg-type]
        backfill=values["backfill"],  # type: ignore[arg-type]
        line=line,
        filing=filing,
    )


def _field(key: str, node: yaml.Node) -> tuple[object, str | None]:
    """Validate one feed field; returns (value, error message or None)."""
    if key == "tags":
        if not isinstance(node, yaml.SequenceNode) or not all(
            isinstance(n, yaml.ScalarNode) and n.value.strip() for n in node.value
        ):
            return None, "'tags' must be a list of words, e.g. [china, ai]"
        return tuple(n.value.strip() for n in node.value), None
    if not isinstance(node, yaml.ScalarNode):
        return None, f"{key!r} must be a single value"
    raw = node.value.strip()
    if key == "name":
        if not raw:
            return None, "'name' must not be empty"
        return raw, None
    if key == "url":
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None, f"'url' must be an http(s) URL, got {raw!r}"
        return raw, None
    if key in ("interval", "timeout"):
        try:
            return parse_duration(raw), None
        except ValueError as exc:
            return None, f"{key!r}: {exc}"
    if key == "lang":
        if not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", raw):
            return None, f"'lang' must be a language code like en or zh-CN, got {raw!r}"
        return raw, None
    if key == "kind":
        if raw not in ("feed", "filings"):
            return None, f"'kind' must be 'feed' (RSS/Atom/JSON Feed) or 'filings', got {raw!r}"
        return raw, None
    if key == "filing_kind":
        if raw not in FILING_KINDS:
            return None, f"'filing_kind' must be one of {', '.join(FILING_KINDS)}, got {raw!r}"
        return raw, None
    if key == "batch":
        if not raw:
            return None, "'batch' must not be empty (e.g. batch: 第15批)"
        return raw, None
    if key == "date":
        if not re.fullmatch(r"20\d\d-[01]\d(?:-[0-3]\d)?", raw):
            return None, f"'date' must be an ISO date like 2025-11-06 or 2025-11, got {raw!r}"
        return raw, None
    if key == "format":
        if raw not in ("xlsx", "csv", "html"):
            return None, f"'format' must be xlsx, csv or html, got {raw!r}"
        return raw, None
    if key == "backfill":
        if raw not in ("silent", "alert"):
            return None, f"'backfill' must be 'silent' or 'alert', got {raw!r}"
        return raw, None
    raise AssertionError(key)


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(k.value): (k, v) for k, v in node.value}


def _at(filename: str, node: yaml.Node, message: str) -> Problem:
    return Problem(filename, node.start_mark.line + 1, message)
