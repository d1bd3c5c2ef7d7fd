"""Watchlist YAML (`rules/*.yaml`) → validated, compiled matcher tables.

`load_watchlists(dir)` reads every rules file, reports every mistake as a `Problem`
(`FILE:LINE: message`) inside one `ConfigError`, and only returns when everything is valid:
nothing half-loaded is ever used. The schema is documented in `rules/README.md`.

Reading and validation live in reader.py, compilation in tables.py, the compiled types in
watchlists.py. A run whose rules did not change loads the compiled tables from a pickle and
imports neither PyYAML nor the reader.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import ahocorasick

from bot.cache import cache_dir, load_cached, store_cached
from bot.errors import ConfigError
from bot.match.watchlists import Watchlists


def load_watchlists(rules_dir: Path, *, cache: bool = True) -> Watchlists:
    """Read, validate and compile every `rules_dir/*.yaml`; raise ConfigError listing all problems.

    With `cache`, the compiled result of valid rules is kept in a pickle (see `bot.cache`)
    named by a hash of every rules file's name and bytes, of this code and of the Python
    version: any edit makes a new key, so a stale table is never used; invalid rules are
    never cached, so their problems are always reported.
    """
    files = sorted(
        p for p in Path(rules_dir).glob("*.yaml") if not p.name.startswith(("_", "."))
    )
    if not cache or not files:
        return _load(rules_dir, files)
    try:
        path = _cache_path(rules_dir, files)
    except OSError:  # a file vanished or cannot be read: the full load reports it
        return _load(rules_dir, files)
    cached = load_cached(path, Watchlists)
    if isinstance(cached, Watchlists):
        return cached
    watchlists = _load(rules_dir, files)
    store_cached(path, watchlists, keep=_CACHE_KEEP)
    return watchlists


_CACHE_KEEP = 8  # compiled tables kept per cache dir (one per rules version in use)


def _cache_path(rules_dir: Path, files: list[Path]) -> Path:
    digest = hashlib.sha256(f"v1 {sys.version} {ahocorasick.__dict__.get('__version__')}"
                            .encode())
    here = Path(__file__).resolve().parent
    # what the pickle is made of, and how it is made
    for code in ("rules.py", "reader.py", "tables.py", "watchlists.py", "normalize.py"):
        code = here / code
        digest.update(code.read_bytes())
    digest.update(_opencc_stamp().encode())
    lib = Path(getattr(ahocorasick, "__file__", None) or sys.executable).stat()
    digest.update(f"{lib.st_size} {lib.st_mtime_ns}".encode())  # the automaton's pickle format
    for path in files:
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return cache_dir() / f"watchlists-{digest.hexdigest()[:32]}.pickle"


def _opencc_stamp() -> str:
    """Size and mtime of OpenCC's character table (found without importing OpenCC)."""
    import importlib.util

    spec = importlib.util.find_spec("opencc")
    if spec is None or spec.origin is None:
        return "no-opencc"
    st = (Path(spec.origin).parent / "dictionary" / "TSCharacters.txt").stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _load(rules_dir: Path, files: list[Path]) -> Watchlists:
    # PyYAML costs ~35 ms to import; a run that finds its tables in the cache never needs it
    from bot.match.reader import RulesReader
    from bot.match.tables import compile_tables

    loader = RulesReader(str(rules_dir))
    for path in files:
        loader.read_file(path)
    if not files:
        loader.problem(str(rules_dir), 1, "no watchlist files (*.yaml) found")
    if not loader.problems:
        loader.resolve()
    if loader.problems:
        raise ConfigError(loader.problems)
    return compile_tables(loader)
