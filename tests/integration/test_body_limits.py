"""Oversized bodies against a real `livecomments web` (granian): whatever a client sees first is
the contract's JSON 413, never the server's own plain-text error, however big the body and
whether it has a Content-Length or is chunked."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

from tests.support.api import Api
from tests.support.stack import Stack
from tests.support.system import start_system

KIB, MIB = 1024, 1024 * 1024
PIECE = b"x" * (64 * KIB)


def _send_body(sock: socket.socket, size: int, chunked: bool) -> None:
    """Send `size` bytes of body (as 64 KiB chunks if `chunked`), stopping quietly once the server closes."""
    try:
        sent = 0
        while sent < size:
            piece = PIECE[: size - sent]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # closed (or reset) by the server after its answer
        pass


def _post_raw(port: int, headers: dict[str, str], size: int, chunked: bool) -> tuple[bytes, bytes]:
    """POST a body of `size` bytes on a raw socket; the response's head and body, as far as they came."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST /api/videos/v1/comments HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
               f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sender = threading.Thread(target=_send_body, args=(sock, size, chunked), daemon=True)
        sender.start()
        received = b""
        try:
            while b"\r\n\r\n" not in received or not _complete(received):
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            pass
        with contextlib.suppress(OSError):  # already closed by the server
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(10)
    response_head, _, body = received.partition(b"\r\n\r\n")
    return response_head, body


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def test_every_oversized_body_gets_the_contracts_json_413(stack: Stack) -> None:
    start_system(stack).close()  # broker, bridge and web app up (the test's own connections not needed)
    api = Api(f"http://127.0.0.1:{stack.http_port}", stack.secret)
    assert api.create_video("v1").status_code == 201
    for chunked in (False, True):
        for size in (20 * KIB, 2 * MIB, 16 * MIB):
            head, body = _post_raw(stack.http_port, api.headers("alice"), size, chunked)
            what = (size, "chunked" if chunked else "content-length", head, body[:200])
            assert head.startswith(b"HTTP/1.1 413"), what
            assert b"content-type: application/json" in head.lower(), what
            assert json.loads(body)["error"]["code"] == "payload_too_large", what
    assert api.post("v1", "still answering").status_code == 202
