"""What the Mosquitto tooling needs from this machine: Mosquitto's programs, the current
user, and private files (mode 0600, replaced atomically)."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path


def mosquitto_executable(name: str = "mosquitto") -> str:
    """The path of `mosquitto` (or `mosquitto_passwd`): on PATH, or in the sbin directories Debian uses."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (Debian: apt-get install mosquitto mosquitto-clients)")
    return found


def current_user() -> str:
    """The user Mosquitto should run as to read what we write: ourselves."""
    return pwd.getpwuid(os.geteuid()).pw_name


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read, through a temporary file, so it is never seen half-written."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
