"""The bridge: consumes ingest/, validates, moderates, persists, numbers and republishes on live/."""
