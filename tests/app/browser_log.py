"""What the browser saw during a test (console, page errors, failed and unfinished requests), for failure reports.

A page that never finishes rendering leaves no trace in a Playwright timeout; this log names the asset that did not
arrive or the script error that stopped the page."""

import time

from playwright.sync_api import Page, Request


class BrowserLog:
    """Collects a page's events from the moment it is attached."""

    def __init__(self, page: Page) -> None:
        self._start = time.monotonic()
        self._lines: list[str] = []
        self._pending: dict[Request, float] = {}
        page.on("console", lambda message: self._add(f"console {message.type}: {message.text}"))
        page.on("pageerror", lambda error: self._add(f"page error: {error}"))
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _add(self, line: str) -> None:
        self._lines.append(f"{time.monotonic() - self._start:7.2f} s  {line}")

    def _started(self, request: Request) -> None:
        self._pending[request] = time.monotonic()

    def _finished(self, request: Request) -> None:
        started = self._pending.pop(request, None)
        if started is not None and time.monotonic() - started > 2:
            self._add(f"slow request ({time.monotonic() - started:.1f} s): {request.method} {request.url}")

    def _failed(self, request: Request) -> None:
        self._pending.pop(request, None)
        self._add(f"request failed ({request.failure}): {request.method} {request.url}")

    def report(self) -> str:
        """Every event, then the requests that never finished."""
        now = time.monotonic()
        pending = [f"unfinished after {now - started:.1f} s: {request.method} {request.url}"
                   for request, started in self._pending.items()
                   if "/queue/data" not in request.url]  # Gradio's event stream stays open by design
        return "\n".join(self._lines + pending) or "(no console message, no failed or unfinished request)"
