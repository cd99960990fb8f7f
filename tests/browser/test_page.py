"""The viewer page `/videos/{v}` in a real browser (Chromium through Playwright) against real
broker, bridge and web app processes: the module's shared ones, on a video of each test's own
(`page_system`), but for the tests that stop the broker or configure the web app their own way.
(Its routes through the Flask test client: tests/app/test_page_routes.py.)"""

from __future__ import annotations

import re
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, BrowserContext, Request, Route, ViewportSize, WebSocketRoute, expect

from bench import mqtt
from infra.ports import free_port
from tests.support.mqtt import Collector
from tests.support.page import OUTPUT_DIR, WAIT_MS, PageSystem, Viewer, start_system
from tests.support.stack import ROOT, Stack

STATIC = ROOT / "webapp" / "static"


def _page_constant(name: str) -> int:
    found = re.search(rf"export const {name} = (\d+);", (STATIC / "subscriptions.js").read_text())
    assert found is not None, name
    return int(found[1])


RECENT_GRACE_S = _page_constant("RECENT_GRACE_MS") / 1000  # the page keeps `recent` this long after its snapshot

PHONE: ViewportSize = {"width": 375, "height": 740}


# -- in the browser ------------------------------------------------------------------------------


def test_what_one_viewer_posts_appears_for_the_other(
    page_system: PageSystem, context: BrowserContext, other_context: BrowserContext
) -> None:
    alice = Viewer.open(context, page_system.url())
    bob = Viewer.open(other_context, page_system.url())
    alice.sign_in("Alice")
    alice.write("x" * 10 + "😀")
    expect(alice.page.locator("#compose-count")).to_have_text("11 / 500")
    alice.send("hello from Alice 👋")
    expect(bob.comments()).to_have_text(["hello from Alice 👋"], timeout=WAIT_MS)
    expect(bob.comment("hello from Alice 👋").locator(".author")).to_have_text("Alice")
    expect(alice.comments()).to_have_text(["hello from Alice 👋"], timeout=WAIT_MS)

    bob.sign_in("Bob")
    bob.page.locator("#compose-text").fill("and hello from Bob")
    bob.page.locator("#compose-text").press("Enter")  # Enter sends
    expect(alice.comments()).to_have_text(["hello from Alice 👋", "and hello from Bob"], timeout=WAIT_MS)
    expect(alice.page.locator("#announcer")).to_have_text(re.compile(r"^\d+ new comments?$"), timeout=WAIT_MS)
    alice.assert_clean()
    bob.assert_clean()


def test_a_late_viewer_gets_the_recent_comments(page_system: PageSystem, context: BrowserContext) -> None:
    for i in range(3):
        assert page_system.api.post(page_system.video, f"earlier {i}", user=f"early{i}").status_code == 202
    viewer = Viewer.open(context, page_system.url())
    expect(viewer.comments()).to_have_text(["earlier 0", "earlier 1", "earlier 2"], timeout=WAIT_MS)
    viewer.assert_clean()


MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def test_markup_in_comments_is_shown_as_text(
    page_system: PageSystem, context: BrowserContext, other_context: BrowserContext
) -> None:
    poster = Viewer.open(context, page_system.url())
    reader = Viewer.open(other_context, page_system.url())
    poster.sign_in("<b>Mallory</b>")
    for text in MARKUP:
        poster.send(text)
    for viewer in (poster, reader):
        expect(viewer.comments()).to_have_text(MARKUP, timeout=WAIT_MS)
        expect(viewer.comment(MARKUP[0]).locator(".author")).to_have_text("<b>Mallory</b>")
        assert viewer.page.locator("#stream img, #stream script, #stream b").count() == 0
        viewer.assert_clean()  # no dialog opened, no CSP or Trusted Types violation


def test_a_reply_appears_under_its_parent_and_counts(
    page_system: PageSystem, context: BrowserContext, other_context: BrowserContext
) -> None:
    reader = Viewer.open(context, page_system.url())
    writer = Viewer.open(other_context, page_system.url())
    parent_id = page_system.api.post(page_system.video, "what time is the launch?", user="carol").json()["id"]
    page_system.api.post(page_system.video, "another comment", user="dave")
    parent = reader.comment("what time is the launch?")
    toggle = parent.locator(".thread-toggle")
    expect(parent).to_be_visible(timeout=WAIT_MS)
    expect(toggle).to_be_hidden()

    writer.sign_in("Erin")
    writer.comment("what time is the launch?").get_by_role("button", name="Reply to Carol").click()
    expect(writer.page.locator("#replying-text")).to_have_text("Replying to Carol")
    writer.send("at noon")

    expect(toggle).to_have_text("1 reply", timeout=WAIT_MS)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(parent.locator(".replies > li.reply > p.text")).to_have_text(["at noon"], timeout=WAIT_MS)
    expect(parent.locator(".replies .author")).to_have_text(["Erin"])
    # the writer's page opened the thread itself
    expect(writer.comment("what time is the launch?").locator(".replies p.text")).to_have_text(["at noon"])
    # a reply arriving live goes under its open parent and counts; it is not a top-level comment
    assert page_system.api.post(page_system.video, "thanks!", user="carol", parent_id=parent_id).status_code == 202
    expect(toggle).to_have_text("Hide 2 replies", timeout=WAIT_MS)
    expect(parent.locator(".replies p.text")).to_have_text(["at noon", "thanks!"], timeout=WAIT_MS)
    expect(reader.comments()).to_have_text(["what time is the launch?", "another comment"])
    toggle.click()
    expect(parent.locator(".replies")).to_be_hidden()
    expect(toggle).to_have_text("2 replies")
    reader.assert_clean()
    writer.assert_clean()


# A system of its own (`system`): it stops and restarts the broker every shared test talks to.
def test_broker_restart_reconnects_and_repairs_the_gap(system: PageSystem, context: BrowserContext) -> None:
    viewer = Viewer.open(context, system.url())
    for i in range(3):
        assert system.api.post(system.video, f"before {i}", user=f"before{i}").status_code == 202
    expect(viewer.comments()).to_have_text([f"before {i}" for i in range(3)], timeout=WAIT_MS)

    posted: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_posting() -> None:
        i = 0
        while not stop.is_set():
            try:
                r = system.api.post(system.video, f"meanwhile {i}", user=f"poster{i}")
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                failures.append(repr(exc))
                return
            if r.status_code == 202:
                posted.append(f"meanwhile {i}")
            else:
                failures.append(f"{r.status_code} {r.text}")
            i += 1
            stop.wait(0.2)

    poster = threading.Thread(target=keep_posting, name="poster")
    poster.start()
    try:
        system.stop_broker()
        expect(viewer.connection).to_have_text(re.compile(r"^Reconnecting"), timeout=WAIT_MS)
        expect(viewer.page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        while len(posted) < 8:  # comments the page cannot have seen live
            expect(viewer.connection).to_have_text(re.compile(r"^Reconnecting"))
            stop.wait(0.1)
        system.start_broker()
        viewer.expect_live(timeout=60_000)
        count = len(posted)
        while len(posted) < count + 5:  # and a few after the broker is back
            stop.wait(0.1)
    finally:
        stop.set()
        poster.join(15)
    assert failures == []

    expected = ["before 0", "before 1", "before 2", *posted]
    system.wait_numbered(len(expected))
    seq_order = [c["text"] for c in system.api.history(system.video, after_seq=0, limit=200).json()["comments"]]
    assert sorted(seq_order) == sorted(expected)
    # every comment exactly once, in seq order
    expect(viewer.comments()).to_have_text(seq_order, timeout=WAIT_MS)
    viewer.assert_clean()


def test_deleted_comments_go_and_the_pinned_one_shows_above_the_stream(
    page_system: PageSystem, context: BrowserContext
) -> None:
    viewer = Viewer.open(context, page_system.url())
    ids = [page_system.api.post(page_system.video, text, user=f"u{i}").json()["id"]
           for i, text in enumerate(("one", "two", "three"))]
    expect(viewer.comments()).to_have_text(["one", "two", "three"], timeout=WAIT_MS)
    moderator = {"Authorization": f"Bearer {page_system.api.token('mod', roles=('moderator',))}"}
    pin = f"{page_system.base}/api/videos/{page_system.video}/pin"

    deleted = requests.delete(f"{page_system.base}/api/comments/{ids[1]}", headers=moderator, timeout=10)
    assert deleted.status_code == 204
    expect(viewer.comments()).to_have_text(["one", "three"], timeout=WAIT_MS)

    pinned = viewer.page.locator("#pinned")
    assert requests.put(pin, json={"comment_id": ids[2]}, headers=moderator, timeout=10).status_code == 204
    expect(pinned).to_be_visible(timeout=WAIT_MS)
    expect(pinned.locator(".text")).to_have_text("three")
    expect(pinned.locator(".author")).to_have_text("U2")
    viewer.page.reload()  # a new viewer learns it from the retained state
    viewer.expect_live()
    expect(pinned.locator(".text")).to_have_text("three", timeout=WAIT_MS)
    expect(viewer.comments()).to_have_text(["one", "three"], timeout=WAIT_MS)
    assert requests.delete(pin, headers=moderator, timeout=10).status_code == 204
    expect(pinned).to_be_hidden(timeout=WAIT_MS)
    viewer.assert_clean()


# The page's config without its `sample` topic: it then follows every comment however fast they
# come (webapp/static/volume.js would switch it to the sample; test_page_sample.py tests that). Not
# a routed document: Chromium refuses a fulfilled page's WebSocket to loopback.
WITHOUT_SAMPLE = """
const parse = JSON.parse;
JSON.parse = function (...args) {
  const value = parse.apply(this, args);
  if (value && value.topics && "sample" in value.topics) delete value.topics.sample;
  return value;
};
"""


def test_a_hot_video_keeps_at_most_500_comments_on_the_page(page_system: PageSystem, context: BrowserContext) -> None:
    viewer = Viewer.attach(context.new_page())
    viewer.page.add_init_script(WITHOUT_SAMPLE)
    viewer.goto(page_system.url())
    total = 540

    def post(i: int) -> int:
        return page_system.api.post(page_system.video, f"hot {i}", user=f"fan{i}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(total)))
    assert statuses == [202] * total
    page_system.wait_numbered(total)
    newest = page_system.api.history(page_system.video, limit=1).json()["comments"][0]["text"]
    expect(viewer.comments().last).to_have_text(newest, timeout=60_000)
    expect(viewer.comments()).to_have_count(500, timeout=WAIT_MS)
    texts = viewer.comments().all_text_contents()
    numbers = [int(t.split()[1]) for t in texts]
    assert len(set(numbers)) == 500, "no comment twice"
    history = page_system.api.history(page_system.video, after_seq=0, limit=200).json()["comments"]
    assert len(history) == 200
    last = [c["text"] for c in page_system.api.history(page_system.video, limit=200).json()["comments"]][::-1]
    assert texts[-200:] == last, "the newest, in seq order"
    viewer.assert_clean()


def test_a_gap_in_seq_is_repaired_from_the_history(page_system: PageSystem, context: BrowserContext) -> None:
    """Comment events lost on the way (QoS 0) show up anyway: the next event's seq reveals the gap,
    and the page fetches it with GET /api/videos/{v}/comments?after_seq=."""
    dropping = threading.Event()
    dropped: list[bytes] = []
    topics = (f"live/videos/{page_system.video}/comments".encode(),)  # `recent` the page left after its grace
    left = threading.Event()  # the page unsubscribed (from `recent`)

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, bytes) and message[0] >> 4 == UNSUBSCRIBE:
                left.set()
            server.send(message)

        ws.on_message(to_server)

        def to_page(message: str | bytes) -> None:
            # one MQTT packet per WebSocket message: a PUBLISH (0x3n) on a dropped topic goes nowhere
            if dropping.is_set() and isinstance(message, bytes) and message[0] >> 4 == 3:
                if any(topic in message[:64] for topic in topics):
                    dropped.append(message)
                    return
            ws.send(message)

        server.on_message(to_page)

    page = context.new_page()
    page.route_web_socket(re.compile(r"^ws://.*/mqtt$"), relay)
    viewer = Viewer.attach(page)
    viewer.goto(page_system.url())
    for i in range(2):
        page_system.api.post(page_system.video, f"seen {i}", user=f"seen{i}")
    expect(viewer.comments()).to_have_text(["seen 0", "seen 1"], timeout=WAIT_MS)
    viewer.wait_until(left.is_set, "the page did not leave `recent`")  # else a fresh one repairs the gap first

    dropping.set()
    for i in range(3):
        page_system.api.post(page_system.video, f"lost {i}", user=f"lost{i}")
    page_system.wait_numbered(5)

    def all_lost() -> bool:  # the last lost comment's event
        return any(b'"text":"lost 2"' in m for m in dropped)

    viewer.wait_until(all_lost, "the lost messages never reached the page's socket")
    expect(viewer.comments()).to_have_text(["seen 0", "seen 1"])
    dropping.clear()
    with page.expect_request(re.compile(rf"/api/videos/{re.escape(page_system.video)}/comments\?after_seq=2&")):
        page_system.api.post(page_system.video, "after the gap", user="after")
    expected = ["seen 0", "seen 1", "lost 0", "lost 1", "lost 2", "after the gap"]
    expect(viewer.comments()).to_have_text(expected, timeout=WAIT_MS)
    viewer.assert_clean()


class MqttTap:
    """Relays the page's MQTT-over-WebSocket connections to the broker and reads the packets
    both ways: what the page subscribes to and leaves, and what it is sent, per connection."""

    def __init__(self) -> None:
        self.sockets: list[WebSocketRoute] = []
        self.subscribed: list[list[str]] = []  # per connection: the filters of its SUBSCRIBEs
        self.left: list[list[str]] = []  # per connection: the filters of its UNSUBSCRIBEs
        self.unsubacks: list[int] = []  # per connection
        self.received: list[list[str]] = []  # per connection: the topic of every PUBLISH to the page
        self.received_at: list[list[float]] = []  # per connection: when each of them passed (monotonic)
        self.left_at: list[float | None] = []  # per connection: when its first UNSUBSCRIBE passed

    def relay(self, ws: WebSocketRoute) -> None:
        n = len(self.sockets)
        self.sockets.append(ws)
        self.subscribed.append([])
        self.left.append([])
        self.unsubacks.append(0)
        self.received.append([])
        self.received_at.append([])
        self.left_at.append(None)
        server = ws.connect_to_server()
        up, down = mqtt.Decoder(), mqtt.Decoder()

        def to_server(message: str | bytes) -> None:
            server.send(message)
            for packet in up.feed(message if isinstance(message, bytes) else message.encode()):
                if packet.type in (mqtt.PacketType.SUBSCRIBE, UNSUBSCRIBE):
                    filters = _filters(packet.body[2:], with_qos=packet.type == mqtt.PacketType.SUBSCRIBE)
                    (self.subscribed if packet.type == mqtt.PacketType.SUBSCRIBE else self.left)[n].extend(filters)
                    if packet.type == UNSUBSCRIBE and self.left_at[n] is None:
                        self.left_at[n] = time.monotonic()  # after the page sent it

        def to_page(message: str | bytes) -> None:
            ws.send(message)
            for packet in down.feed(message if isinstance(message, bytes) else message.encode()):
                if packet.type == mqtt.PacketType.PUBLISH:
                    self.received[n].append(mqtt.parse_publish(packet).topic)
                    self.received_at[n].append(time.monotonic())  # before the page got it
                elif packet.type == UNSUBACK:
                    self.unsubacks[n] += 1

        ws.on_message(to_server)
        server.on_message(to_page)

    def count(self, n: int, topic: str) -> int:
        return self.received[n].count(topic)

    def held_after_first(self, n: int, topic: str) -> float:
        """Seconds from the first `topic` message to the page to its first UNSUBSCRIBE, at least
        (the one is timed before the page gets it, the other after the page sent it)."""
        first = self.received_at[n][self.received[n].index(topic)]
        left = self.left_at[n]
        assert left is not None
        return left - first


UNSUBSCRIBE, UNSUBACK = 10, 11


def _filters(body: bytes, *, with_qos: bool) -> list[str]:
    out, pos = [], 0
    while pos + 2 <= len(body):
        (size,) = struct.unpack_from("!H", body, pos)
        out.append(body[pos + 2:pos + 2 + size].decode())
        pos += 2 + size + (1 if with_qos else 0)
    return out


def test_the_page_takes_recent_once_per_connection_and_leaves_it(
    page_system: PageSystem, context: BrowserContext
) -> None:
    """`recent` (the bridge republishes it after every batch) reaches a viewer only on joining:
    the page takes the retained snapshot, keeps the topic for RECENT_GRACE_MS (a fresher one may
    follow within a republish interval), unsubscribes, and does the same after a reconnect;
    comments, state and reactions keep coming, and the `recent` republished after the grace does not."""
    recent, comments = f"live/videos/{page_system.video}/recent", f"live/videos/{page_system.video}/comments"
    for i in range(3):
        assert page_system.api.post(page_system.video, f"before {i}", user=f"before{i}").status_code == 202
    page_system.wait_numbered(3)
    tap = MqttTap()
    page = context.new_page()
    page.route_web_socket(re.compile(r"^ws://.*/mqtt$"), tap.relay)
    viewer = Viewer.attach(page)
    watcher = Collector(page_system.stack.mqtt_port, recent)  # sees every `recent` the bridge publishes
    try:
        viewer.goto(page_system.url())
        expect(viewer.comments()).to_have_text([f"before {i}" for i in range(3)], timeout=WAIT_MS)
        viewer.wait_until(lambda: tap.unsubacks[0] >= 1, "the page did not leave `recent`")
        assert set(tap.subscribed[0]) == {comments, recent, f"live/videos/{page_system.video}/state",
                                          f"live/videos/{page_system.video}/reactions"}
        assert tap.left[0] == [recent], "only `recent` is left"
        assert tap.count(0, recent) >= 1, "the retained snapshot"
        assert tap.held_after_first(0, recent) >= RECENT_GRACE_S - 0.01, "kept for the grace after the snapshot"
        taken = tap.count(0, recent)  # the snapshot and any that came in its grace

        def more(texts: list[str], at_least_seq: int) -> None:
            for text in texts:
                assert page_system.api.post(page_system.video, text, user="later").status_code == 202
            expect(viewer.comments().last).to_have_text(texts[-1], timeout=WAIT_MS)
            watcher.wait_for(lambda _m: any(m.json()["seq"] >= at_least_seq for m in watcher.on(recent)))
            page.wait_for_timeout(500)  # what the broker sent the watcher, it sent the page as well

        more([f"after {i}" for i in range(4)], 7)
        assert tap.count(0, recent) == taken, "no `recent` after the grace"
        assert tap.count(0, comments) >= 1

        tap.sockets[0].close()  # the connection drops: a new session, a fresh snapshot
        viewer.wait_until(lambda: len(tap.sockets) >= 2 and tap.unsubacks[1] >= 1,
                          "the page did not reconnect, take `recent` and leave it")
        viewer.expect_live()
        assert recent in tap.subscribed[1] and tap.left[1] == [recent]
        assert tap.count(1, recent) >= 1
        assert tap.held_after_first(1, recent) >= RECENT_GRACE_S - 0.01, "the grace again"
        taken = tap.count(1, recent)
        more(["after the reconnect"], 8)
        assert tap.count(1, recent) == taken, "no `recent` after the second grace either"
        expected = [*(f"before {i}" for i in range(3)), *(f"after {i}" for i in range(4)), "after the reconnect"]
        expect(viewer.comments()).to_have_text(expected)
    finally:
        watcher.close()
    viewer.assert_clean()


# A system of its own (`stack`): its web app runs with settings of its own (two broker URLs).
def test_fails_over_to_the_next_broker_url(stack: Stack, context: BrowserContext) -> None:
    dead = f"ws://127.0.0.1:{free_port()}/mqtt"
    alive = f"ws://127.0.0.1:{stack.ws_port}/mqtt"
    system = start_system(stack, LIVECOMMENTS_PUBLIC_WS_URLS=f"{dead},{alive}")
    page = context.new_page()
    tried: list[str] = []
    page.on("websocket", lambda ws: tried.append(ws.url))
    viewer = Viewer.attach(page)
    viewer.goto(system.url())
    assert tried[:2] == [dead, alive]
    system.api.post(system.video, "found you", user="finder")
    expect(viewer.comments()).to_have_text(["found you"], timeout=WAIT_MS)
    viewer.assert_clean()


def no_horizontal_scroll(viewer: Viewer) -> None:
    widths = viewer.page.evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth, client: document.scrollingElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"], widths


def screenshot(viewer: Viewer, name: str) -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    shot = OUTPUT_DIR / name
    viewer.page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 0
    return shot


def test_fits_a_phone_screen_and_scrolls_only_when_at_the_bottom(page_system: PageSystem, browser: Browser) -> None:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        viewer = Viewer.open(ctx, page_system.url())
        viewer.sign_in("A rather long display name, fifty characters long")
        question = "Is the stream going to be recorded? Asking for a friend."
        first = page_system.api.post(page_system.video, question, user="zoe").json()["id"]
        thread = viewer.comment(question)
        expect(thread).to_be_visible(timeout=WAIT_MS)  # a reply needs its parent approved
        assert page_system.api.post(page_system.video, "Yes!", user="host", parent_id=first).status_code == 202
        for i, text in enumerate(
            ("https://example.com/" + "a-very-long-unbroken-path" * 8, "W" * 300, "line one\nline two\nline three")
        ):
            assert page_system.api.post(page_system.video, text, user=f"writer{i}").status_code == 202
        expect(viewer.comments()).to_have_count(4, timeout=WAIT_MS)
        expect(thread.locator(".thread-toggle")).to_have_text("1 reply", timeout=WAIT_MS)
        viewer.write("Typing on a phone…")
        scroller = viewer.page.locator("#stream-scroll")
        assert scroller.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight") <= 48, "follows the stream"
        no_horizontal_scroll(viewer)
        screenshot(viewer, "viewer-375px.png")

        # a reader who scrolled up is not dragged down: a button offers the new comments
        scroller.evaluate("e => { e.scrollTop = 0; }")
        thread.locator(".thread-toggle").click()
        expect(thread.locator(".replies p.text")).to_have_text(["Yes!"], timeout=WAIT_MS)
        page_system.api.post(page_system.video, "a new one while you read", user="nia")
        button = viewer.page.locator("#new-comments")
        expect(button).to_have_text("1 new comment ↓", timeout=WAIT_MS)
        assert scroller.evaluate("e => e.scrollTop") == 0
        no_horizontal_scroll(viewer)
        screenshot(viewer, "viewer-375px-scrolled-up.png")
        button.click()
        expect(button).to_be_hidden()
        assert scroller.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight") <= 48
        viewer.assert_clean()
    finally:
        ctx.close()


def test_post_errors_are_said_in_words_and_503_is_retried_with_the_same_key(
    page_system: PageSystem, context: BrowserContext
) -> None:
    viewer = Viewer.open(context, page_system.url())
    viewer.sign_in("Quinn")
    comments_url = f"{page_system.base}/api/videos/{page_system.video}/comments"
    keys: list[str] = []
    answers: list[dict[str, Any]] = [
        {"status": 413, "error": ("payload_too_large", "too big")},
        {"status": 422, "error": ("rejected", "contains a blocked term")},
        {"status": 403, "error": ("chat_closed", "the chat of this video is closed")},
        {"status": 403, "error": ("forbidden", "you are banned from this chat")},
        {"status": 429, "error": ("rate_limited", "slow down"), "headers": {"Retry-After": "2"}},
        {"status": 503, "error": ("unavailable", "database down"), "headers": {"Retry-After": "0"}},
        {"status": 503, "error": ("unavailable", "database down"), "headers": {"Retry-After": "0"}},
    ]

    def handle(route: Route, request: Request) -> None:
        if request.method != "POST":
            route.continue_()
            return
        keys.append(request.headers["idempotency-key"])
        if not answers:
            route.continue_()
            return
        answer = answers.pop(0)
        code, message = answer["error"]
        route.fulfill(
            status=answer["status"],
            headers=answer.get("headers", {}),
            content_type="application/json",
            body=f'{{"error": {{"code": "{code}", "message": "{message}"}}}}',
        )

    viewer.page.route(comments_url, handle)
    send = viewer.page.locator("#compose-send")
    for words in (
        "Your comment is too large to send.",
        "Your comment was not accepted: contains a blocked term",
        "The chat of this video is closed.",
        "You can't post in this chat: you are banned from this chat",
    ):
        viewer.write(f"attempt {len(keys)}")
        send.click()
        expect(viewer.status).to_have_text(words)
    assert len(set(keys)) == 4, "each post has its own Idempotency-Key"

    viewer.write("too fast")
    send.click()
    expect(viewer.status).to_have_text(re.compile(r"^You are posting too fast\. You can send again in [12] s\.$"))
    expect(send).to_be_disabled()
    expect(viewer.status).to_have_text("You can send again.", timeout=5000)
    expect(send).to_be_enabled()

    keys.clear()
    viewer.write("third time lucky")
    send.click()
    expect(viewer.status).to_have_text(re.compile(r"^The server could not record your comment\. Trying again"))
    expect(viewer.status).to_have_text("Sent.", timeout=WAIT_MS)
    assert len(keys) == 3 and len(set(keys)) == 1, keys  # 503, 503, then the real 202: one key
    expect(viewer.comments()).to_have_text(["third time lucky"], timeout=WAIT_MS)
    viewer.assert_clean()


def test_an_invalid_sign_in_is_said_and_leads_back_to_sign_in(page_system: PageSystem, context: BrowserContext) -> None:
    viewer = Viewer.open(context, page_system.url())
    viewer.sign_in("Pat")
    viewer.page.evaluate(
        """() => {
            const s = JSON.parse(sessionStorage.getItem("livecomments.session"));
            sessionStorage.setItem("livecomments.session", JSON.stringify({...s, token: s.token + "x"}));
        }"""
    )
    viewer.page.reload()
    viewer.expect_live()
    viewer.write("hello?")
    viewer.page.locator("#compose-send").click()
    expect(viewer.status).to_have_text("Your sign-in has expired or is not valid. Please sign in again.")
    expect(viewer.page.locator("#sign-in")).to_be_visible()
    expect(viewer.page.locator("#compose")).to_be_hidden()
    viewer.assert_clean()
