"""The viewer page under test: a real system (broker, bridge, web app with the development
sign-in) and Chromium driven by Playwright's sync API, with helpers that wait on conditions."""

from __future__ import annotations

import re
import signal
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests
from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Locator, Page, expect

from tests.support.api import Api
from tests.support.stack import ROOT, Service, Stack
from tests.support.waiting import eventually

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (tests/browser/conftest.py) launches it
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_DIR = ROOT / "test-output"
VIDEO = "v1"
WAIT_MS = 20_000
# What must never show up in a page's console: a blocked script or style, or a DOM sink misused.
FORBIDDEN_CONSOLE = re.compile(r"Content Security Policy|TrustedHTML|TrustedScript|Trusted Type", re.IGNORECASE)


@dataclass
class PageSystem:
    """The processes a page talks to, and the video a test uses by default (`video`)."""

    stack: Stack
    api: Api
    broker: Service
    base: str
    video: str = VIDEO  # what url(), last_seq() and wait_numbered() mean without a video_id
    shared: bool = False  # other tests use the same processes: stop, restart or kill none of them

    def with_new_video(self, title: str = "Launch day, live") -> PageSystem:
        """The same processes, bound to a video just created for the caller alone (so its seqs,
        comments, settings, pins, bans, reactions, audit and history are the caller's own)."""
        video_id = f"t-{uuid.uuid4().hex[:12]}"
        resp = self.api.create_video(video_id, title)
        assert resp.status_code == 201, resp.text
        return replace(self, video=video_id)

    def check_running(self) -> None:
        """AssertionError, with its log's tail, if one of the processes has exited (for a shared
        system, which nothing stops before the end of its module)."""
        for svc in self.stack.services:
            if svc.proc is not None and svc.proc.poll() is not None:
                raise AssertionError(f"`livecomments {' '.join(svc.args)}` exited with {svc.proc.returncode}:\n"
                                     f"{svc.output()[-4000:]}")

    def url(self, video_id: str | None = None) -> str:
        return f"{self.base}/videos/{video_id or self.video}"

    def last_seq(self, video_id: str | None = None) -> int:
        resp = requests.get(f"{self.base}/api/videos/{video_id or self.video}", timeout=10)
        return int(resp.json()["last_seq"])

    def wait_numbered(self, count: int, video_id: str | None = None) -> None:
        """Until the bridge has numbered (and so published) `count` events of the video."""
        eventually(lambda: self.last_seq(video_id) >= count, 60, f"fewer than {count} events were numbered",
                   interval=0.1)

    def stop_broker(self, grace_s: float = 10.0) -> None:
        """SIGTERM; SIGKILL if it is not gone within grace_s (viewers see the same lost socket)."""
        assert not self.shared, "the broker of a shared system serves other tests: take a private `system`"
        proc = self.broker.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            print(f"broker did not stop within {grace_s}s of SIGTERM; killing it")
            self.broker.kill()

    def start_broker(self) -> None:
        assert not self.shared, "the broker of a shared system serves other tests: take a private `system`"
        self.broker = self.stack.broker()  # the same ports as before


def start_system(stack: Stack, **web_env: str) -> PageSystem:
    """Broker, bridge and a web app in development mode (the dev sign-in), and one video."""
    broker = stack.broker()
    bridge = stack.bridge()
    web = stack.service("web", ports=[stack.http_port])
    web.env["LIVECOMMENTS_DEV"] = "1"
    web.env.update(web_env)
    web.start()
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    api.wait_ready()
    # a page announces itself once when it subscribes, then every 30 s: the bridge's presence
    # connection (up to 2 s on amqtt: its MQTT 5 probe) must be there first for it to count
    eventually(lambda: "presence: counting announcements" in bridge.output(), 20, "the bridge counts viewers")
    assert api.create_video(VIDEO, "Launch day, live").status_code == 201
    return PageSystem(stack, api, broker, api.base)


@dataclass
class Viewer:
    """One browser tab on the viewer page, and what it has said in its console."""

    page: Page
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> Viewer:
        """Watch a page that is not open yet (routes and listeners may be added first)."""
        viewer = cls(page)
        page.on("console", viewer._console)
        page.on("pageerror", lambda exc: viewer.problems.append(f"page error: {exc}"))
        page.on("dialog", viewer._dialog)
        return viewer

    @classmethod
    def open(cls, context: BrowserContext, url: str) -> Viewer:
        viewer = cls.attach(context.new_page())
        viewer.goto(url)
        return viewer

    def goto(self, url: str) -> None:
        self.page.goto(url)
        self.expect_live()

    def _console(self, message: ConsoleMessage) -> None:
        if FORBIDDEN_CONSOLE.search(message.text):
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(getattr(dialog, "message", "?"))
        try:
            dialog.dismiss()  # type: ignore[attr-defined]
        except Error:
            pass

    # -- reading the page -----------------------------------------------------------------------

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection-text")

    @property
    def status(self) -> Locator:
        return self.page.locator("#compose-status")

    def expect_live(self, timeout: float = WAIT_MS) -> None:
        expect(self.connection).to_have_text("Live", timeout=timeout)

    def comments(self) -> Locator:
        """Top-level comments' texts, in page order."""
        return self.page.locator("#stream > li.comment > p.text")

    def comment(self, text: str) -> Locator:
        """The top-level comment whose text is exactly `text`."""
        exactly = re.compile(f"^{re.escape(text)}$")
        return self.page.locator("#stream > li.comment").filter(
            has=self.page.locator(":scope > p.text", has_text=exactly)
        )

    def item(self, text: str) -> Locator:
        """The comment or reply (its <li>) whose text is exactly `text`."""
        exactly = re.compile(f"^{re.escape(text)}$")
        return self.page.locator("#stream li.comment, #stream li.reply").filter(
            has=self.page.locator(":scope > p.text", has_text=exactly)
        )

    def reaction(self, text: str, kind: str) -> Locator:
        """The `kind` reaction button of the comment or reply whose text is `text`."""
        return self.item(text).locator(f":scope > .actions .reaction[data-kind={kind}]")

    @property
    def toast(self) -> Locator:
        return self.page.locator("#toast")

    @property
    def live_total(self) -> Locator:
        return self.page.locator("#live-total")

    # -- acting ---------------------------------------------------------------------------------

    def sign_in(self, name: str, moderator: bool = False) -> None:
        self.page.locator("#sign-in-name").fill(name)
        self.page.locator("#sign-in-moderator").set_checked(moderator)
        self.page.locator("#sign-in button[type=submit]").click()
        expect(self.page.locator("#who-text")).to_have_text(f"Signed in as {name}.")
        if moderator:
            expect(self.page.locator("#mod-tools")).to_be_visible()

    def react(self, text: str, kind: str) -> None:
        """Press (or unpress) a reaction, through the picker when the kind is not showing."""
        button = self.reaction(text, kind)
        if not button.is_visible():
            self.item(text).locator(":scope > .actions .react-pick").click()
        button.click()

    def comment_action(self, text: str, action: str) -> None:
        """Open the comment's "More actions" and press one (Delete, Pin, Report, Ban…)."""
        item = self.item(text)
        more = item.locator(":scope > .actions > .more-button")
        if more.get_attribute("aria-expanded") != "true":
            more.click()
        item.locator(":scope > .more-menu").get_by_role("button", name=action, exact=True).click()

    def save_settings(self, **fields: object) -> None:
        """As a moderator: open Chat settings, change the given fields, save."""
        self.page.locator("#open-settings").click()
        dialog = self.page.locator("#settings-dialog")
        expect(dialog).to_be_visible()
        expect(self.page.locator("#settings-save")).to_be_enabled()
        for name, value in fields.items():
            if name == "chat":
                dialog.locator(f"#set-chat-{value}").check()
            elif name == "slow_mode_s":
                dialog.locator("#set-slow").fill(str(value))
            elif name == "hold_for_review":
                dialog.locator("#set-hold").set_checked(bool(value))
            elif name == "reports_to_hold":
                dialog.locator("#set-reports").fill(str(value))
            elif name == "blocked_terms":
                assert isinstance(value, list)
                dialog.locator("#set-terms").fill("\n".join(value))
            else:
                raise ValueError(name)
        self.page.locator("#settings-save").click()
        expect(dialog).to_be_hidden(timeout=WAIT_MS)
        expect(self.toast).to_have_text("Chat settings saved.")

    def write(self, text: str) -> None:
        self.page.locator("#compose-text").fill(text)

    def send(self, text: str) -> None:
        self.write(text)
        self.page.locator("#compose-send").click()
        expect(self.status).to_have_text("Sent.", timeout=WAIT_MS)

    def wait_until(self, check: Callable[[], bool], what: str, timeout_ms: float = WAIT_MS) -> None:
        """Poll a condition fed by this page's event handlers (they only run while Playwright
        has control, so the poll waits through the page, not with time.sleep)."""
        eventually(check, timeout_ms / 1000, what, pause=lambda s: self.page.wait_for_timeout(s * 1000))

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
