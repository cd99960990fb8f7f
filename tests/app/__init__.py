"""App tests: the Flask app through its test client, and in-process parts of the services on a
real database — SQLite in tmp_path and, where the SQL differs, PostgreSQL (`database_url`).

What belongs here: every HTTP endpoint and its refusals (the app as `livecomments web` builds it,
publishing to memory: the `app`, `client`, `publisher` and `auth` fixtures of conftest.py, as in
flaskr), the post path's one statement, group commit, SQLite's locking, the migrations, the
bridge's decisions recorded in a real database. Nothing listens on a port and no broker runs:
that is tests/integration.
"""
