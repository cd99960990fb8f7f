"""An ended video on the page, in Chromium: its replay (webapp/static/replay.js) over
GET /api/videos/{v}/replay: `?t=` starts at that moment and shows exactly the comments made up to
it, Play brings the next ones as the clock passes their pos_ms, the seek bar works from the
keyboard; a video that ends while watched turns into its replay."""

from __future__ import annotations

import time

from playwright.sync_api import BrowserContext, expect

from tests.support.page import WAIT_MS, PageSystem, Viewer
from tests.support.waiting import eventually

REPLAYED = "replayed-video"


def _made_video(system: PageSystem) -> list[dict[str, object]]:
    """A video started a minute ago with three comments about 1.5 s apart, ended; its comments."""
    api = system.api
    resp = api.call("POST", "/api/videos", user="root", roles=("admin",),
                    json={"id": REPLAYED, "title": "Replayed", "started_ts": int(time.time() * 1000) - 60000})
    assert resp.status_code == 201, resp.text
    for n, text in enumerate(("first", "second", "third")):
        if n:
            time.sleep(1.5)
        assert api.post(REPLAYED, text, user=f"viewer{n}").status_code == 202
    system.wait_numbered(3, REPLAYED)
    body = api.history(REPLAYED, limit=10).json()
    comments = sorted(body["comments"], key=lambda c: c["pos_ms"])
    assert [c["text"] for c in comments] == ["first", "second", "third"]
    return comments


def _end(system: PageSystem) -> None:
    resp = system.api.call("PATCH", f"/api/videos/{REPLAYED}", user="root", roles=("admin",), json={"status": "ended"})
    assert resp.status_code == 200, resp.text


def test_an_ended_video_replays_its_comments_at_their_moment(system: PageSystem, context: BrowserContext) -> None:
    comments = _made_video(system)
    watcher = Viewer.open(context, system.url(REPLAYED))
    watcher.expect_live()
    _end(system)
    replay = watcher.page.locator("#replay")
    expect(replay).to_be_visible(timeout=WAIT_MS)  # ended while watched: the replay replaces the stream
    expect(watcher.page.locator(".stream-wrap")).to_be_hidden()

    # ?t= between the first and the second comment: exactly the first is shown, paused
    first, second = (int(c["pos_ms"]) for c in comments[:2])  # type: ignore[call-overload]
    t_s = (first + (second - first) / 2) / 1000
    watcher.goto(f"{system.url(REPLAYED)}?t={t_s:.3f}")
    items = watcher.page.locator("#replay-stream > li .text")
    expect(items).to_have_text(["first"], timeout=WAIT_MS)
    toggle = watcher.page.locator("#replay-toggle")
    expect(toggle).to_have_text("Play")
    expect(watcher.page.locator("#replay-position")).to_have_text(f"{int(t_s) // 60}:{int(t_s) % 60:02d}")

    # Play: the second, then the third, as the clock passes them
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(items).to_have_text(["first", "second"], timeout=WAIT_MS)
    expect(items).to_have_text(["first", "second", "third"], timeout=WAIT_MS)

    # from the keyboard: Space pauses (focus on the list), Home on the seek bar goes back to 0:00
    watcher.page.locator("#replay-scroll").focus()
    watcher.page.keyboard.press(" ")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    watcher.page.locator("#replay-seek").focus()
    watcher.page.keyboard.press("Home")
    expect(watcher.page.locator("#replay-position")).to_have_text("0:00")
    expect(items).to_have_count(0)
    expect(watcher.page.locator("#replay-empty")).to_be_visible()
    watcher.page.keyboard.press("End")
    expect(items).to_have_text(["first", "second", "third"], timeout=WAIT_MS)
    watcher.assert_clean()


def test_a_deleted_comment_is_gone_from_the_replay(system: PageSystem, context: BrowserContext) -> None:
    comments = _made_video(system)
    _end(system)
    resp = system.api.mod("DELETE", f"/api/comments/{comments[1]['id']}")
    assert resp.status_code in (200, 204), resp.text

    def gone() -> bool:
        body = system.api.call("GET", f"/api/videos/{REPLAYED}/replay", params={"from_ms": 0, "to_ms": 600000}).json()
        return [c["text"] for c in body["comments"]] == ["first", "third"]

    eventually(gone, 20, "the deleted comment stayed in the replay")
    watcher = Viewer.open(context, f"{system.url(REPLAYED)}?t=100")
    expect(watcher.page.locator("#replay-stream > li .text")).to_have_text(["first", "third"], timeout=WAIT_MS)
    watcher.assert_clean()
