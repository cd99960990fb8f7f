"""One Chromium for the run, a fresh browser context (or two) per test, and the system the page
talks to (tests.support.page.start_system): one per module, shared by the tests that keep to a
video of their own (`page_system`), or one of the test's own (`system`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

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
    """Broker, bridge and a web app in development mode, with the video VIDEO, of the test's own
    (the page's own system, in place of tests/conftest.py's `system`): for a test that stops,
    restarts or kills a process, starts the web app with settings of its own, or counts what
    every video shares."""
    return start_system(stack)


@pytest.fixture(scope="module")
def shared_page_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageSystem]:
    """One broker, bridge and web app (development mode) for every test of a module that takes
    `page_system`: starting them costs seconds of CPU per test. Stopped after the module."""
    stack = Stack.on_free_ports(tmp_path_factory.mktemp("page-system") / "data")
    try:
        yield replace(start_system(stack), shared=True)
    finally:
        stack.stop_all()


@pytest.fixture
def page_system(shared_page_system: PageSystem) -> Iterator[PageSystem]:
    """The module's shared processes, bound to a video created for this test alone: url(),
    last_seq(), wait_numbered() and `video` are its own, and so are that video's seqs, comments,
    settings, pins, bans, reactions, audit and history. Nothing may be stopped or restarted."""
    shared_page_system.check_running()  # an earlier test's crash is said as such, not as a timeout
    yield shared_page_system.with_new_video()
    shared_page_system.check_running()  # a process that died during the test is that test's error


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
