"""amqtt 0.12.1 plugins applying the project's access control (see `broker.acl`).

`AuthPlugin` decides who a client is from its CONNECT (no username: anonymous; a known
account with its password: that account's role; anything else: refused) and keeps the
answer on the session as a `Principal`. `TopicACLPlugin` asks `acl.is_allowed` for
every publish, subscribe and delivery, using that principal and the session's client id (a
viewer announces itself only on the presence topic of its own id); a session without one is
denied everything. What a presence message may carry is checked on the message itself, by
`broker.embedded.LiveBroker`.

amqtt's own TopicAccessControlListPlugin is not used: an empty publish list allows
every publish there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from broker import acl
from infra.credentials import ROLE_BRIDGE, ROLE_SERVICE, verify_password
from livecomments import presence
from livecomments.topics import Topics

log = logging.getLogger(__name__)

PRINCIPAL_KEY = "livecomments.broker.principal"
REFUSAL_KEY = "livecomments.broker.refusal"  # why AuthPlugin refused the session, for the broker's log
KNOWN_ROLES = frozenset({ROLE_BRIDGE, ROLE_SERVICE})
_MAX_VERIFIED = 1024


@dataclass(frozen=True)
class Principal:
    """Who a session belongs to: an account and its role, or anonymous (both None)."""

    account: str | None
    role: str | None

    @property
    def is_anonymous(self) -> bool:
        return self.account is None


ANONYMOUS = Principal(None, None)


def principal_of(session: Session | None) -> Principal | None:
    """The principal our auth plugin stored on the session, or None if it never ran."""
    if session is None:
        return None
    value = session.attributes.get(PRINCIPAL_KEY)
    return value if isinstance(value, Principal) else None


@dataclass(frozen=True)
class _User:
    role: str
    hash: str


def parse_users(doc: Any) -> dict[str, _User]:
    """The accounts of a users file: `{"users": {name: {"role", "hash"}}}`; unknown roles are skipped."""
    if not isinstance(doc, dict) or not isinstance(doc.get("users"), dict):
        raise ValueError("a broker users file holds {'users': {name: {'role': ..., 'hash': ...}}}")
    users: dict[str, _User] = {}
    for name, entry in doc["users"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            raise ValueError(f"user {name!r}: needs a 'role' and a 'hash'")
        if entry.get("role") not in KNOWN_ROLES:
            log.warning("broker user %r has unknown role %r; it cannot sign in", name, entry.get("role"))
            continue
        users[str(name)] = _User(role=str(entry["role"]), hash=entry["hash"])
    return users


class UserStore:
    """The accounts of the users file, reloaded when the file changes.

    `role_for` is blocking (PBKDF2): call it off the event loop. A successful check is
    remembered (by a digest of the password) until the account's hash changes, so that
    services reconnecting do not pay the key derivation each time.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime_ns = -1
        self._users: dict[str, _User] = {}
        self._verified: dict[bytes, str] = {}
        self._reload()

    def role_for(self, username: str, password: str) -> str | None:
        """The account's role if the password is right, else None."""
        user = self._current().get(username)
        if user is None:
            return None
        key = hashlib.sha256(f"{username}\0{password}".encode()).digest()
        with self._lock:
            if self._verified.get(key) == user.hash:
                return user.role
        if not verify_password(password, user.hash):
            return None
        with self._lock:
            if len(self._verified) >= _MAX_VERIFIED:
                self._verified.clear()
            self._verified[key] = user.hash
        return user.role

    def _current(self) -> dict[str, _User]:
        try:
            changed = self._path.stat().st_mtime_ns != self._mtime_ns
        except OSError:
            changed = False  # keep the accounts we have
        if changed:
            try:
                self._reload()
            except (OSError, ValueError) as exc:
                log.error("cannot reload broker users from %s (keeping the previous ones): %s", self._path, exc)
        with self._lock:
            return self._users

    def _reload(self) -> None:
        mtime_ns = self._path.stat().st_mtime_ns
        users = parse_users(json.loads(self._path.read_text()))
        with self._lock:
            self._users, self._mtime_ns = users, mtime_ns


def _topics(live_prefix: str, ingest_prefix: str) -> Topics:
    return Topics(live_prefix=live_prefix, ingest_prefix=ingest_prefix)


class AuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Anonymous, or a service account from the users file; a will must be one the client could publish."""

    @dataclass
    class Config:
        users_file: str
        live_prefix: str = "live/"
        ingest_prefix: str = "ingest/"

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._users = UserStore(Path(self.config.users_file))
        self._topics = _topics(self.config.live_prefix, self.config.ingest_prefix)

    async def authenticate(self, *, session: Session) -> bool | None:
        principal = await self.identify(session)
        if principal is None:
            session.attributes[REFUSAL_KEY] = "bad username or password"
            return False
        if not self._will_allowed(session, principal):
            session.attributes[REFUSAL_KEY] = f"will topic {session.will_topic!r} not allowed"
            return False
        session.attributes.pop(REFUSAL_KEY, None)
        session.attributes[PRINCIPAL_KEY] = principal
        # amqtt keeps no offline queue and drops the disconnected sessions of anonymous clients.
        session.is_anonymous = principal.is_anonymous
        return True

    async def identify(self, session: Session) -> Principal | None:
        """The principal the CONNECT credentials name, or None if they are wrong."""
        if not session.username:
            # A password without a username is refused by amqtt itself (MQTT-3.1.2-22).
            return ANONYMOUS if session.password is None else None
        role = await asyncio.to_thread(self._users.role_for, session.username, session.password or "")
        return None if role is None else Principal(session.username, role)

    def _will_allowed(self, session: Session, principal: Principal) -> bool:
        # amqtt publishes a will without asking the topic plugins: check it at the door.
        if not session.will_flag:
            return True
        topic = session.will_topic or ""
        if presence.is_presence_topic(topic):  # a will is no announcement (and comes when it has gone)
            return False
        return acl.is_allowed(principal.role, acl.PUBLISH, topic, self._topics, session.client_id)


class TopicACLPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """`acl.is_allowed` for every publish, subscribe and delivery (amqtt's Action.RECEIVE)."""

    @dataclass
    class Config:
        live_prefix: str = "live/"
        ingest_prefix: str = "ingest/"

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._topics = _topics(self.config.live_prefix, self.config.ingest_prefix)

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        return self.allows(session, topic, action)

    def allows(self, session: Session | None, topic: str | None, action: Action | str | None) -> bool:
        """The answer of `topic_filtering`, without the coroutine (LiveBroker calls this on its hot path)."""
        principal = principal_of(session)
        if principal is None or topic is None or action is None:
            return False
        client_id = session.client_id if session is not None else None
        allowed = acl.is_allowed(principal.role, str(action), topic, self._topics, client_id)
        if not allowed and str(action) != acl.RECEIVE:
            log.debug("denied %s on %r to %s", action, topic, principal.account or "anonymous")
        return allowed
