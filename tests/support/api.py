"""HTTP helpers for tests against a running web app."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from livecomments.tokens import issue
from tests.support.waiting import eventually


@dataclass
class Api:
    base: str
    secret: str

    def token(self, user: str, name: str | None = None, roles: tuple[str, ...] = ()) -> str:
        return issue(self.secret, user, name or user.title(), roles)

    def headers(self, user: str | None, **extra: str) -> dict[str, str]:
        h = dict(extra)
        if user is not None:
            h["Authorization"] = f"Bearer {self.token(user)}"
        return h

    def create_video(self, video_id: str, title: str = "A live video") -> requests.Response:
        admin = self.token("root", roles=("admin",))
        return requests.post(
            f"{self.base}/api/videos",
            json={"id": video_id, "title": title},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )

    def post(self, video_id: str, text: str, user: str = "alice", parent_id: str | None = None,
             **headers: str) -> requests.Response:
        body: dict[str, Any] = {"text": text}
        if parent_id is not None:
            body["parent_id"] = parent_id
        return requests.post(
            f"{self.base}/api/videos/{video_id}/comments", json=body, headers=self.headers(user, **headers), timeout=10
        )

    def history(self, video_id: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.base}/api/videos/{video_id}/comments", params=params, timeout=10)

    def comment(self, comment_id: str, user: str | None = None) -> requests.Response:
        return requests.get(f"{self.base}/api/comments/{comment_id}", headers=self.headers(user), timeout=10)

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        eventually(self.ready, timeout, "web app never became ready", interval=0.1)

    def call(self, method: str, path: str, user: str | None = None, roles: tuple[str, ...] = (),
             **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user, roles=roles)}"
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=10, **kwargs)

    def call_until_served(self, method: str, path: str, user: str | None = None, give_up_s: float = 30.0,
                          **kwargs: Any) -> requests.Response:
        """`call`, again after its `Retry-After` while the answer is 503 (shed or a part unavailable),
        as the contract asks a client to: for idempotent calls only (PUT, DELETE, GET)."""
        assert method in {"PUT", "DELETE", "GET"}, method
        deadline = time.monotonic() + give_up_s
        while True:
            response = self.call(method, path, user=user, **kwargs)
            if response.status_code != 503 or time.monotonic() > deadline:
                return response
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))

    def mod(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """As a moderator."""
        return self.call(method, path, user="mod", roles=("moderator",), **kwargs)
