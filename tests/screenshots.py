"""The README's screenshots: `newsbot web` on the test store, seen by the tests' browser.

    python -m tests.screenshots docs      (or `make screenshots`)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser import Browser
from tests.webstore import build_web_store, start_web, stop

PAGES = (("dashboard.png", "/", True),
         ("stories.png", "/newsbot/story_sources?_search=%E6%99%BA%E8%B0%B1", True),
         ("entities.png", "/newsbot/entity_timeline?entity=baidu", False))


def main(folder: str) -> None:
    """Write each page's screenshot into `folder`."""
    out = Path(folder)
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "newsbot.db"
        build_web_store(db)
        site = start_web(db)
        try:
            with Browser(1280, 900) as browser:
                for name, path, full in PAGES:
                    browser.open(site.url + path)
                    (out / name).write_bytes(browser.screenshot(full_page=full))
                    print(out / name)
        finally:
            stop(site)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
