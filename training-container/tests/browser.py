"""Headless Debian Chromium driven over the DevTools protocol on a pipe: the standard library is all it needs.

Chromium started with ``--remote-debugging-pipe`` reads protocol messages (JSON, each ended by a NUL byte) on file
descriptor 3 and writes its answers and events on descriptor 4, as Playwright drives it.
"""
import base64
import fcntl
import io
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]


class BrowserError(RuntimeError):
    """Chromium exited, timed out or answered a command with an error."""


class Chromium:
    """One headless Chromium with a fresh profile in ``profile``; use as a context manager."""

    def __init__(self, profile: Path, timeout: float = 30.0):
        self._timeout = timeout
        self._log = profile / "chromium.log"
        profile.mkdir(parents=True, exist_ok=True)
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()

        def wire_descriptors() -> None:  # in the child: our pipe ends become its descriptors 3 and 4
            read_end = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            write_end = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile / 'user-data'}", "--remote-debugging-pipe",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False, preexec_fn=wire_descriptors)  # noqa: PLW1509 - Chromium's --remote-debugging-pipe reads fds 3 and 4, which only a pre-exec dup2 can place; the test starts no threads
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: List[dict] = []

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        """Asks Chromium to quit, then makes sure it has."""
        try:
            self.call("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._writer, self._reader):
            try:
                os.close(fd)
            except OSError:
                pass

    def call(self, method: str, params: Optional[dict] = None, session: Optional[str] = None,
             timeout: Optional[float] = None) -> dict:
        """Sends one command and returns its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        message: Dict[str, object] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self._timeout)
        while True:
            answer = self._receive(deadline, method)
            assert answer is not None
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method} failed: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, event: str, session: str, timeout: Optional[float] = None) -> dict:
        """The first event named ``event`` from the tab attached as ``session`` (already received or still to come)."""
        deadline = time.monotonic() + (timeout or self._timeout)
        while True:
            for seen in self.events:
                if seen.get("method") == event and seen.get("sessionId") == session:
                    return seen
            message = self._receive(deadline, event)
            assert message is not None
            self.events.append(message)

    def settle(self, seconds: float) -> None:
        """Keeps every event that arrives in the next ``seconds`` (some, like CSP refusals, trail the load event)."""
        deadline = time.monotonic() + seconds
        while (message := self._receive(deadline, "", wait=False)) is not None:
            self.events.append(message)

    def _receive(self, deadline: float, waiting_for: str, wait: bool = True) -> Optional[dict]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._reader], [], [], remaining)[0]:
                if not wait:
                    return None
                raise BrowserError(f"Chromium did not answer {waiting_for} in time; its log: {self.log_tail()}")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited while waiting for {waiting_for}; its log: {self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def log_tail(self) -> str:
        """The end of Chromium's own output, for error messages."""
        return self._log.read_text(errors="replace")[-2000:] if self._log.exists() else "(none)"


class Page:
    """A tab opened on ``url`` at a desktop viewport, with its console errors collected."""

    def __init__(self, browser: Chromium, url: str, width: int = 1280, height: int = 900):
        self._browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})
        browser.wait_for("Page.loadEventFired", self._session)

    def call(self, method: str, params: Optional[dict] = None) -> dict:
        """A command to this tab."""
        return self._browser.call(method, params, self._session)

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self, settle: float = 0.5) -> List[str]:
        """Console errors, uncaught exceptions and browser-logged errors (failed loads, CSP refusals), after waiting
        ``settle`` seconds for late ones."""
        self._browser.settle(settle)
        errors = []
        for event in self._browser.events:
            if event.get("sessionId") != self._session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        return errors

    def screenshot(self, clip: Optional[dict] = None) -> Image.Image:
        """A PNG screenshot of ``clip`` (page coordinates: x, y, width, height) or of the whole page."""
        if clip is None:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {**clip, "scale": 1}})["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def pixel_variance(image: Image.Image) -> float:
    """Variance of all pixel values: 0 for a blank (single-colour) region."""
    return float(np.asarray(image, dtype=np.float64).var())
