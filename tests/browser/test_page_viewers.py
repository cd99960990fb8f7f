"""Who is watching, in Chromium: each page announces itself over the WebSocket and shows the count."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from tests.support.page import WAIT_MS, PageSystem, Viewer


def test_two_pages_count_two_and_show_it(
    system: PageSystem, context: BrowserContext, other_context: BrowserContext
) -> None:
    alice = Viewer.open(context, system.url())
    bob = Viewer.open(other_context, system.url())
    for viewer in (alice, bob):  # the count comes with `state`, at most every 5 s
        expect(viewer.page.locator("#viewers-line")).to_be_visible(timeout=WAIT_MS)
        expect(viewer.page.locator("#viewers")).to_have_text("2", timeout=WAIT_MS)
        expect(viewer.page.locator("#viewers-line")).to_have_attribute("title", "2 watching now, 2 at most so far")
    alice.assert_clean()
    bob.assert_clean()
