"""What may go into a Mosquitto file: one word per value, a path on one line, true/false.

Mosquitto reads its files line by line and splits values at spaces, so a value with a
space or a newline in it would become another option (`user root`): refused here.
"""

from __future__ import annotations

from pathlib import Path

from livecomments.config import ConfigError


def boolean(value: bool) -> str:
    return "true" if value else "false"


def word(value: str) -> str:
    """A value that must stay one word on one line of the file."""
    if not value or any(c.isspace() for c in value) or "\0" in value:
        raise ConfigError(f"{value!r} cannot go into a Mosquitto file: it must be one word")
    return value


def path(value: Path) -> str:
    text = str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ConfigError(f"path {text!r} cannot go into a Mosquitto file")
    return text
