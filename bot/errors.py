"""The exceptions newsbot raises. Only `cli.py` and `app.py` turn them into messages.

    NewsbotError
    ├── ConfigError          one or more `FILE:LINE: message` problems in feeds.yaml or rules/
    ├── FetchError           one feed could not be fetched (network, HTTP status, limits)
    │   └── FeedTooLarge     the body went over the size cap, on the wire or decompressed
    ├── ParseError           a body is not a feed at all (HTML page, empty, random bytes)
    │   └── FilingListError  a filing list (XLSX/CSV/HTML) is unreadable, too large, or has
    │                        no filer column; the message names the file and what was found
    └── StoreError           the database is unusable (newer schema, corrupt file)
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration mistake, located in a file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(NewsbotError):
    """A configuration file is invalid; `problems` lists every mistake found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FetchError(NewsbotError):
    """A feed could not be fetched; the message says why in one line."""


class FeedTooLarge(FetchError):
    """The body exceeded the configured size cap."""


class ParseError(NewsbotError):
    """The body is not an RSS/Atom feed."""


class FilingListError(ParseError):
    """A filing list cannot be read as one: the message names the file and says why."""


class StoreError(NewsbotError):
    """The database cannot be used."""
