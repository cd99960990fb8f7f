"""The one shape of every long-running part: the broker, the bridge, the web server, and the
background buffers inside them.

`start()` returns once the part is running (or raises if it cannot start); `stop()` returns
once it has stopped and released what it holds, and is safe to call twice or before `start()`;
`is_alive()` says whether it still runs, so a supervisor (`livecomments up`) can notice a part
that died on its own. A part that runs on the caller's thread is not a Service: wrap it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Service(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def is_alive(self) -> bool: ...
