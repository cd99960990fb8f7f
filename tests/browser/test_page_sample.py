"""The viewer page follows the sampled feed `live/videos/{v}/sample` while the chat is faster than it
can show (webapp/static/volume.js: more than 20 comments a second, 3 seconds running), says so, and
follows every comment again once the chat has been calm for 10 s (Chromium, real broker, bridge
and web app; the bridge's cap: LIVECOMMENTS_SAMPLE_PER_S, 5 by default)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import BrowserContext, expect

from tests.support.page import VIDEO, PageSystem, Viewer
from tests.support.waiting import eventually

POST_PER_S = 50  # well over the page's 20 a second
MAX_POSTS = 450  # under the 500 the page keeps: "fewer shown" is the sample's doing
SAMPLE_NOTE = "This chat is very busy: showing a sample of the comments."


def test_a_busy_chat_is_shown_as_a_sample_then_in_full_when_it_calms(
    system: PageSystem, context: BrowserContext
) -> None:
    viewer = Viewer.open(context, system.url())
    note = viewer.page.locator("#sample-note")
    expect(note).to_be_hidden()
    posted: list[int] = []

    def post(i: int) -> None:
        # paced: comment i at i / POST_PER_S s; each from its own user (the per-user rate limit)
        if stop.wait(max(0.0, start + i / POST_PER_S - time.monotonic())):
            return
        assert system.api.post(VIDEO, f"busy {i}", user=f"fan{i}").status_code == 202
        posted.append(i)

    stop = threading.Event()
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(post, i) for i in range(MAX_POSTS)]
        expect(note).to_have_text(SAMPLE_NOTE, timeout=MAX_POSTS / POST_PER_S * 1000)
        switched = len(posted)  # then some more, on the sample
        eventually(lambda: len(posted) >= min(MAX_POSTS, switched + 60), 20, "the posting stalled", interval=0.05)
        stop.set()
        for future in futures:
            future.result()
    expect(note).to_be_visible()
    expect(note).to_have_attribute("role", "status")  # said to screen readers, politely
    total = len(posted)
    system.wait_numbered(total)

    # Ten calm seconds later the page follows every comment again (and every sampled message came).
    expect(note).to_be_hidden(timeout=20_000)
    items = viewer.page.locator("#stream > li.comment")
    seqs = [int(s) for s in items.evaluate_all("(items) => items.map((i) => i.dataset.seq)")]
    assert len(seqs) == len(set(seqs)), "no comment twice"
    assert seqs == sorted(seqs)
    assert 0 < len(seqs) < total, f"a sample: {len(seqs)} of {total} shown"
    missing = set(range(min(seqs), max(seqs) + 1)) - set(seqs)
    assert missing, "comments left out while sampled, and not fetched afterwards"

    # The full stream again: a comment posted now appears, with the seq after the last.
    assert system.api.post(VIDEO, "after the calm", user="late").status_code == 202
    expect(viewer.comments().last).to_have_text("after the calm")
    last = int(viewer.page.locator("#stream > li.comment").last.get_attribute("data-seq") or 0)
    assert last == total + 1
    viewer.assert_clean()
