"""livecomments: the shared core (no IO) — wire contract, data model, configuration.

Imports point one way: this package <- moderation <- bridge, webapp, broker plugins.
"""
