"""`<data dir>/runtime.json`: where a running `livecomments up` listens, so that `watch`, `token`
and the README's tour find the real ports (a taken default port is swapped for a free one)
instead of assuming 1883/8000. Written once the parts are up, removed on a clean stop; a file
left by a killed process names a pid that no longer runs, and is ignored."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUNTIME_FILE = "runtime.json"


def write_runtime(data_dir: Path, info: dict[str, Any]) -> Path:
    path = data_dir / RUNTIME_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **info}, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def read_runtime(data_dir: Path) -> dict[str, Any] | None:
    """What the running system wrote, or None (no file, unreadable, or its process is gone)."""
    try:
        info = json.loads((data_dir / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not _running(info.get("pid")):
        return None
    return info


def remove_runtime(data_dir: Path) -> None:
    try:
        info = json.loads((data_dir / RUNTIME_FILE).read_text())
    except (OSError, ValueError):
        return
    if isinstance(info, dict) and info.get("pid") == os.getpid():
        (data_dir / RUNTIME_FILE).unlink(missing_ok=True)
