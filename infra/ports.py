"""Choosing listening ports: the configured one if it is free, else a free one."""

from __future__ import annotations

import socket


def is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pick(host: str, preferred: int, explicit: bool) -> int:
    """The preferred port if free; if it was only a default and is taken, a free one."""
    if preferred == 0 or (not explicit and not is_free(host, preferred)):
        return free_port(host)
    return preferred


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Something listens on host:port (a TCP connect succeeds)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def reachable_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on `host`: a wildcard (or an
    unset host) is reached on loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a wildcard is reached on loopback
