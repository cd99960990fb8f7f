"""Broker passwords: every account's (generated once into the data dir, never committed),
and Mosquitto's password file of their hashes (`mosquitto_passwd -U`)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Mapping
from pathlib import Path

from broker.mosquitto.accounts import BROKER_ACCOUNTS
from broker.mosquitto.host import mosquitto_executable, write_private
from infra.credentials import ensure_credentials
from livecomments.config import ConfigError

EXTRA_CREDENTIALS_FILE = "mosquitto-credentials.json"  # the Mosquitto-only accounts', in the data dir


def broker_passwords(data_dir: Path) -> dict[str, str]:
    """Every broker account's password: the services' from the data dir's credentials, the
    Mosquitto-only accounts' from their own file (both generated once, never committed)."""
    passwords = dict(ensure_credentials(data_dir).passwords)
    path = data_dir / EXTRA_CREDENTIALS_FILE
    extra: dict[str, str] = json.loads(path.read_text())["passwords"] if path.exists() else {}
    missing = [a for a in BROKER_ACCOUNTS if a not in passwords and a not in extra]
    if missing:
        extra.update({account: secrets.token_urlsafe(24) for account in missing})
        write_private(path, json.dumps({"passwords": extra}, indent=2))
    return {account: passwords.get(account) or extra[account] for account in BROKER_ACCOUNTS}


def write_password_file(path: Path, passwords: Mapping[str, str]) -> None:
    """A Mosquitto password file of hashed passwords (`mosquitto_passwd -U` on a private plaintext file)."""
    plain = path.with_name(path.name + ".plain")
    lines = []
    for account, password in passwords.items():
        if ":" in account or any(c.isspace() for c in account + password):
            raise ConfigError(f"account {account!r} or its password cannot go into a Mosquitto password file")
        lines.append(f"{account}:{password}\n")
    try:
        write_private(plain, "".join(lines))
        subprocess.run(  # noqa: S603 - a fixed executable on a file we just wrote
            [mosquitto_executable("mosquitto_passwd"), "-U", str(plain)],
            check=True, capture_output=True, timeout=30,
        )
        os.replace(plain, path)
    finally:
        plain.unlink(missing_ok=True)
