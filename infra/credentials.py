"""Per-data-dir secrets for the embedded default: the services' broker passwords, the key the
services' MQTT client ids are derived from and, unless one is configured, the token secret.
Generated on first use (a file from before a field existed gets it added), never committed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from livecomments import tokens
from livecomments.config import Settings

CREDENTIALS_FILE = "service-credentials.json"
BROKER_USERS_FILE = "broker-users.json"

# Broker roles. The bridge is the single writer of live/; services (the web app and
# other authenticated producers) write ingest/; anonymous viewers only read live/.
ROLE_BRIDGE = "bridge"
ROLE_SERVICE = "service"
SERVICE_ACCOUNTS = {"bridge": ROLE_BRIDGE, "webapp": ROLE_SERVICE}

_PBKDF2_ROUNDS = 120_000


@dataclass(frozen=True)
class ServiceCredentials:
    passwords: dict[str, str]  # account -> password
    token_secret: str
    client_id_key: str  # hex; HMAC key for the services' client ids (client_id_suffix)


def hash_password(password: str, salt: bytes | None = None, rounds: int = _PBKDF2_ROUNDS) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"pbkdf2_sha256${rounds}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, rounds, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest)


def _write_private(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def ensure_credentials(data_dir: Path) -> ServiceCredentials:
    """Load the data dir's service credentials, creating them (and the broker's user file) once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        doc = json.loads(path.read_text())
        if "client_id_key" not in doc:  # written before client ids were derived from a secret
            doc["client_id_key"] = secrets.token_hex(32)
            _write_private(path, doc)
    else:
        doc = {
            "passwords": {name: secrets.token_urlsafe(24) for name in SERVICE_ACCOUNTS},
            "token_secret": secrets.token_urlsafe(32),
            "client_id_key": secrets.token_hex(32),
        }
        _write_private(path, doc)
    users_path = data_dir / BROKER_USERS_FILE
    if not users_path.exists():
        users = {
            name: {"role": SERVICE_ACCOUNTS[name], "hash": hash_password(pw)}
            for name, pw in doc["passwords"].items()
        }
        _write_private(users_path, {"users": users})
    return ServiceCredentials(passwords=dict(doc["passwords"]), token_secret=str(doc["token_secret"]),
                              client_id_key=str(doc["client_id_key"]))


def client_id_suffix(key: str, purpose: str) -> str:
    """16 hex characters nobody can guess without `key`, the same for the same `purpose`: a
    service's MQTT client id that an anonymous client cannot take, stable across restarts."""
    return hmac.new(bytes.fromhex(key), purpose.encode(), hashlib.sha256).hexdigest()[:16]


def hs256_secret(settings: Settings) -> str:
    """The configured token secret, else the one generated for this data dir."""
    if settings.secret:
        if len(settings.secret.encode()) < tokens.MIN_SECRET_BYTES:
            tokens.warn_short(len(settings.secret.encode()))
        return settings.secret
    return ensure_credentials(settings.data_dir).token_secret
