"""Unit tests: pure logic, in this process, with nothing started and nothing written.

What belongs here: field rules, topics and payload codecs, the moderation decision and the
blocked-terms matcher, the rate-limit rule, the client's sequencing rules (and the shared
vectors in tests/vectors/), token checks, the bridge's bookkeeping with a fake clock, the
broker's ACL table, the benchmark's arithmetic. No server, no database file, no network, no
sleeps: a fake clock or a plain value instead. `pytest tests/unit` runs alone in seconds.
A case that needs a real SQLite or PostgreSQL goes to tests/app; a real broker, Redis or a
process of ours, to tests/integration.
"""
