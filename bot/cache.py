"""Pickled results of slow, pure work (compiled watchlists, a parsed feeds.yaml), on disk.

Each entry is named by a digest of everything it is made of (the input files, the code that
made it, the Python version): an edit makes a new name, so a stale entry is never read, and
old ones are pruned. Every failure here only costs speed: the caller computes the result.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Where results are cached: $NEWSBOT_CACHE_DIR, else the XDG cache dir."""
    if os.environ.get("NEWSBOT_CACHE_DIR"):
        return Path(os.environ["NEWSBOT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsbot"


def load_cached(path: Path, kind: type) -> object | None:
    """The cached object at `path` if it is there, whole, and a `kind`; else None."""
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recompute
        return None
    return cached if isinstance(cached, kind) else None


def store_cached(path: Path, value: object, *, keep: int) -> None:
    """Write the pickle atomically (a reader never sees half a file); keep the newest `keep`
    entries that share its name's prefix (the part before the digest)."""
    prefix = path.name.split("-", 1)[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{prefix}-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        old = sorted(path.parent.glob(f"{prefix}-*.pickle"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-keep]:
            stale.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass
