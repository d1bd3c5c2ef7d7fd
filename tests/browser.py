"""A headless Chromium driven over the DevTools protocol through a pipe (stdlib only).

`chromium --remote-debugging-pipe` reads commands on fd 3 and writes answers on fd 4, each a
JSON object ended by a NUL byte. Enough of the protocol for the web tests and the README's
screenshots: open a page, wait for it to load, run JavaScript in it, take a screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe"]


def chromium_path() -> str | None:
    """The system's Chromium (Debian's `chromium` package), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self._id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:  # noqa: PYI034 - the house style (FeedServer)
        path = chromium_path()
        if path is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self._profile = tempfile.TemporaryDirectory(prefix="newsbot-chromium-")
        to_child, self._send_fd = os.pipe()
        self._recv_fd, from_child = os.pipe()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]
        # Chromium wants the pipe at fd 3 and 4: bash puts it there, then becomes Chromium (no
        # preexec_fn: forking a threaded test process must not run Python in the child; not
        # dash: it cannot redirect from a descriptor above 9).
        redirect = f'exec "$0" "$@" 3<&{high[0]} 4>&{high[1]}'
        self.proc = subprocess.Popen(
            ["bash", "-c", redirect, path, *FLAGS, f"--user-data-dir={self._profile.name}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            pass_fds=high, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_child, from_child, *high):
            os.close(fd)
        try:
            self._attach()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _attach(self) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width,
                  height=self.height, deviceScaleFactor=1, mobile=False)

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (OSError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send_fd)
        os.close(self._recv_fd)
        self._profile.cleanup()

    def call(self, method: str, *, session: bool = False, timeout: float = 30.0,
             **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events meanwhile are kept)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            # wait for the pipe, not in os.read: a silent browser must fail the test, not hang it
            if left <= 0 or not select.select([self._recv_fd], [], [], left)[0]:
                raise RuntimeError("chromium did not answer in time")
            chunk = os.read(self._recv_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def wait_for_load(self, timeout: float = 30.0) -> None:
        """Wait for the page's load event (one that came already counts)."""
        deadline = time.monotonic() + timeout
        while True:
            for n, event in enumerate(self.events):
                if event.get("method") == "Page.loadEventFired":
                    del self.events[: n + 1]
                    return
            self.events.append(self._read(deadline))

    def open(self, url: str) -> None:
        """Navigate to `url` and wait until it has loaded."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for_load()

    def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; its value (JSON-able)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, full_page: bool = True) -> bytes:
        """The page as PNG (the whole page, not only the window, by default)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = self.js("document.documentElement.scrollHeight")
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", session=True,
                                          **params)["data"])
