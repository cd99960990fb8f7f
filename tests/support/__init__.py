"""What tests share that is not a fixture (like flask.testing, outside the package):

- `stack`: the process harness (`Stack`, `Service`, `wait_for_port`): livecomments commands as
  child processes on free ports with their own data dir;
- `system`: a whole system (broker, bridge, web app processes) and what a test reads from it;
- `api`: HTTP calls against a running web app; `mqtt`: a real paho subscriber and publisher;
  `peer`: a paho client per role, for the access-control tests;
- `web`: an app built as `livecomments web` builds it, publishing to memory, tokens and rows;
- `page`: the viewer page in Chromium (a system in development mode, a `Viewer` per tab);
- `waiting`: `eventually`, the one polling loop.

Fixtures live in the conftest.py files (tests/ for the shared ones, then one per tier).
"""
