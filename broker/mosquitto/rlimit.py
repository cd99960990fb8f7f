"""This process's file-descriptor limit (RLIMIT_NOFILE), which a Mosquitto child inherits:
raised to the hard limit before a broker starts, and a warning if it is below what full
listeners need (`sizing.Limits.fd_needed`)."""

from __future__ import annotations

import logging
import resource

from broker.mosquitto.sizing import FD_SPARE

log = logging.getLogger(__name__)

_FD_CAP = 1 << 20
_fd_logged: int | None = None  # the limit last logged (once per process at INFO)


def raise_fd_limit(needed: int = 0) -> int:
    """Raise this process's (and so its children's) RLIMIT_NOFILE soft limit to the hard limit; log it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _FD_CAP if hard == resource.RLIM_INFINITY else min(hard, _FD_CAP)
    if soft == resource.RLIM_INFINITY or soft >= target:
        target = soft
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the file-descriptor limit from %d to %d: %s", soft, target, exc)
            target = soft
    global _fd_logged
    log.log(logging.DEBUG if _fd_logged == target else logging.INFO,
            "file-descriptor limit: %s (hard limit %s)", _limit(target), _limit(hard))
    _fd_logged = target
    if needed and target != resource.RLIM_INFINITY and target < needed:
        log.warning(
            "the file-descriptor limit %d is below the %d that full listeners need: Mosquitto will refuse "
            "connections near %d. Raise the hard limit (systemd LimitNOFILE=, limits.conf nofile).",
            target, needed, target - FD_SPARE,
        )
    return int(target)


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)
