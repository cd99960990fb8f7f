"""One Chromium for the run, a fresh browser context (or two) per test, and the system the page
talks to (tests.support.page.start_system)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.support.page import CHROMIUM, CHROMIUM_ARGS, PageSystem, start_system
from tests.support.stack import Stack


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (Playwright never downloads a browser here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (./dev setup)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def system(stack: Stack) -> PageSystem:
    """Broker, bridge and a web app in development mode, with the video VIDEO (the page's own
    system, in place of tests/conftest.py's `system`)."""
    return start_system(stack)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    yield ctx
    ctx.close()


@pytest.fixture
def other_context(browser: Browser) -> Iterator[BrowserContext]:
    """A second viewer, with its own cookies and storage."""
    ctx = browser.new_context()
    yield ctx
    ctx.close()
