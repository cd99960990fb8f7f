"""livecomments: the pure core, no IO — field rules, topics, payload codecs, the data model,
configuration, tokens and the one Service shape.

Nothing here opens a socket, a file or a database session, and nothing here imports a service.
Imports point one way (pyproject.toml [tool.importlinter], checked by ./dev test):
livecomments <- infra, moderation <- webapp, bridge, broker, viewer <- wiring (and bench).
"""
