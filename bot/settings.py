"""Process settings from the environment and the command line, read once into a frozen object.

Kept apart from feeds.yaml parsing so commands that never read feeds.yaml (`newsbot match`)
do not pay for importing YAML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError, Problem

# Seconds between `newsbot run`'s looks at its clock: feeds due, deliveries due, config files
# edited (every two ticks). So also the shortest wait between two polls of one feed. A second
# suits real feeds; NEWSBOT_TICK lowers it for local feeds polled faster (the tests do).
DEFAULT_TICK = 1.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Process settings from the command line and environment."""

    feeds_path: Path = Path("feeds.yaml")
    rules_dir: Path = Path("rules")
    db_path: Path = Path("data/newsbot.db")
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    admins: tuple[int, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"
    web_password: str | None = None  # NEWSBOT_WEB_PASSWORD: `newsbot web` beyond loopback
    metrics_listen: tuple[str, int] | None = None  # NEWSBOT_METRICS_PORT: /healthz, /metrics
    tick: float = DEFAULT_TICK  # NEWSBOT_TICK: how often `newsbot run` looks at its clock


def settings_from_env(env: Mapping[str, str], **overrides: object) -> Settings:
    """Build Settings from environment variables; explicit overrides (CLI options) win."""
    admins_raw = env.get("NEWSBOT_ADMINS", "")
    admins: list[int] = []
    for part in admins_raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            admins.append(int(part))
        except ValueError:
            raise ConfigError(
                [Problem("NEWSBOT_ADMINS", 0, f"{part!r} is not a Telegram user id (an integer)")]
            ) from None
    values: dict[str, object] = {
        "web_password": env.get("NEWSBOT_WEB_PASSWORD") or None,
        "metrics_listen": metrics_listen(env.get("NEWSBOT_METRICS_PORT", "")),
        "tick": tick(env.get("NEWSBOT_TICK", "")),
        "feeds_path": Path(env.get("NEWSBOT_FEEDS", "feeds.yaml")),
        "rules_dir": Path(env.get("NEWSBOT_RULES", "rules")),
        "db_path": Path(env.get("NEWSBOT_DB", "data/newsbot.db")),
        "telegram_token": env.get("TELEGRAM_BOT_TOKEN") or None,
        "telegram_api_url": (env.get("TELEGRAM_API_URL") or "https://api.telegram.org").rstrip("/"),
        "admins": tuple(admins),
        "log_level": env.get("NEWSBOT_LOG_LEVEL", "INFO").upper(),
        "log_format": env.get("NEWSBOT_LOG_FORMAT", "text").lower(),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def metrics_listen(text: str) -> tuple[str, int] | None:
    """NEWSBOT_METRICS_PORT: `9108` (on 127.0.0.1) or `HOST:9108` → (host, port); "" → None."""
    text = text.strip()
    if not text:
        return None
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 < number < 65536:
        raise ConfigError([Problem("NEWSBOT_METRICS_PORT", 0, f"{text!r} is not a port; write "
                                   "e.g. 9108, or 0.0.0.0:9108 to listen on every address")])
    return (host.strip("[]") or "127.0.0.1", number)


def tick(text: str) -> float:
    """NEWSBOT_TICK: `0.1` (or `0.1s`) → 0.1 seconds; "" → DEFAULT_TICK."""
    number = text.strip().removesuffix("s")
    if not number:
        return DEFAULT_TICK
    try:
        seconds = float(number)
    except ValueError:
        seconds = -1.0
    if not 0.01 <= seconds <= 60:  # also refuses nan and inf
        raise ConfigError([Problem("NEWSBOT_TICK", 0, f"{text.strip()!r} is not a tick; write "
                                   "seconds from 0.01 to 60, e.g. 1 or 0.1")])
    return seconds


def env_settings(**overrides: object) -> Settings:
    """Settings from the process environment (only the CLI calls this)."""
    return settings_from_env(os.environ, **overrides)
