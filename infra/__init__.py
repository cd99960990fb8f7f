"""infra: the edges every service shares — the database engine and its migrations, the event log
and the reads both the bridge and the web app make (on a session they hand in), the MQTT client,
the Redis cache of recent comments, the per-data-dir credentials and runtime file, free ports.

Each module here opens something (a socket, a file, a pool) when asked and nothing at import.
Only the wiring (wiring/) decides what to open; services receive what it opened.
Imports point one way: livecomments (the pure core) <- infra <- services <- wiring.
"""
