"""Browser fixtures: Debian's chromium driven by Playwright, on a real `lgmock serve`.

Playwright cannot download its own browsers here, so it launches the system chromium
by path. Where that browser (or Playwright) is missing the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> Path | None:
    """LGMOCK_CHROMIUM when set (another distribution's browser), else Debian's."""
    chosen = os.environ.get("LGMOCK_CHROMIUM")
    if chosen:
        return Path(chosen) if Path(chosen).exists() else None
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


# One browser per test, not per session: Playwright's sync API keeps an event loop running
# in the worker's main thread for as long as it is open, and every later `asyncio.run` in
# that worker (unit tests of async code, the SDK tests) then fails with "cannot be called
# from a running event loop". A launch costs about a second.
@pytest.fixture
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        where = os.environ.get("LGMOCK_CHROMIUM") or str(CHROMIUM)
        reason = f"no chromium at {where}: `apt-get install -y chromium` to run these"
        # CI installs chromium and says so: there a missing browser is a failure, not a skip.
        if os.environ.get("LGMOCK_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(path), headless=True)
        yield launched
        launched.close()


class ConsoleErrors(list):
    """Every console error and uncaught exception of a page, as text.

    Chromium logs every non-2xx fetch as an error; a test that provokes a refusal on
    purpose says which one with ``allow`` (the rest still fail the test).
    """

    def __init__(self) -> None:
        super().__init__()
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self if not any(fragment in e for fragment in self.allowed)]


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    """A 1280x800 page on the test server; the test fails on any console error."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server.base_url)
    opened = context.new_page()
    errors = ConsoleErrors()
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    opened.console_errors = errors
    yield opened
    context.close()
    assert not errors.unexpected(), f"console errors: {errors.unexpected()}"
