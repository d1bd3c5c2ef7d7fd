"""The whole configuration: feeds.yaml and rules/ loaded together, watched on disk, compared.

A Config is complete and valid or not made at all (`load_config` raises one ConfigError
with every problem of both files); `config_signature` tells cheaply that a file changed;
`describe_change` says what a reload changed, for the log and for /reload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.config import FeedsConfig, Settings, load_feeds
from bot.errors import ConfigError
from bot.match.rules import load_watchlists
from bot.match.watchlists import Watchlists


@dataclass(frozen=True, slots=True)
class Config:
    """A complete, validated configuration: feeds and watchlists, loaded together."""

    feeds: FeedsConfig
    watchlists: Watchlists
    rules_digest: str = ""  # hash of the rules files' bytes: tells an edit from a no-op

    def entity_name(self, entity_id: str) -> str:
        info = self.watchlists.entity(entity_id)
        return info.name if info else entity_id


def load_config(settings: Settings) -> Config:
    """Load feeds.yaml and rules/; raise one ConfigError with every problem of both."""
    problems = []
    feeds = watchlists = None
    try:
        feeds = load_feeds(settings.feeds_path)
    except ConfigError as exc:
        problems += exc.problems
    try:
        watchlists = load_watchlists(settings.rules_dir)
    except ConfigError as exc:
        problems += exc.problems
    if problems or feeds is None or watchlists is None:
        raise ConfigError(problems)
    return Config(feeds=feeds, watchlists=watchlists, rules_digest=_rules_digest(settings))


def _rules_digest(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in sorted(settings.rules_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def config_signature(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """What identifies the configuration on disk: each file's name, mtime and size.

    Cheap enough to take every few seconds; any edit, new or deleted rules file changes it.
    """
    paths = [settings.feeds_path]
    try:
        paths += sorted(settings.rules_dir.glob("*.yaml"))
    except OSError:
        pass
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append((str(path), -1, -1))
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def describe_change(old: Config, new: Config) -> str:
    """What a reload changed: feeds and lists added/removed, entity counts."""
    old_feeds = {f.name for f in old.feeds.feeds}
    new_feeds = {f.name for f in new.feeds.feeds}
    old_lists = {wl.id: len(wl.entities) for wl in old.watchlists.lists}
    new_lists = {wl.id: len(wl.entities) for wl in new.watchlists.lists}
    parts = [f"Reloaded: {len(new_feeds)} feeds, {len(new_lists)} watchlists, "
             f"{sum(new_lists.values())} entities."]
    if added := sorted(new_feeds - old_feeds):
        parts.append("Feeds added: " + ", ".join(added))
    if removed := sorted(old_feeds - new_feeds):
        parts.append("Feeds removed: " + ", ".join(removed))
    changed = sorted(f.name for f in new.feeds.feeds
                     if f.name in old_feeds and f not in old.feeds.feeds)
    if changed:
        parts.append("Feeds changed: " + ", ".join(changed))
    for wl in sorted(set(old_lists) | set(new_lists)):
        before, after = old_lists.get(wl), new_lists.get(wl)
        if before is None:
            parts.append(f"List added: {wl} ({after} entities)")
        elif after is None:
            parts.append(f"List removed: {wl}")
        elif before != after:
            parts.append(f"List {wl}: {before} → {after} entities")
    if old.rules_digest != new.rules_digest and len(parts) == 1:
        parts.append("Watchlist rules changed.")
    if len(parts) == 1:
        parts.append("Nothing changed.")
    return "\n".join(parts)
