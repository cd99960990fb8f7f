"""Integration tests: real servers and real processes, each on free loopback ports with its own
data dir — the amqtt broker or Mosquitto, the bridge and web app as `livecomments` child
processes (tests.support.stack), a Redis and a PostgreSQL database of the test's own, real paho
and HTTP clients. What belongs here: access control as the broker enforces it, the pipeline end
to end, durability across kill -9, clusters and bridges, the client library and `watch`,
`livecomments up`, the benchmark's tiny run. Waits are on events or `eventually`, never sleeps.
The whole system is the `system` fixture (tests/conftest.py, once on SQLite and once on
PostgreSQL); a browser on top of it is tests/browser.
"""
