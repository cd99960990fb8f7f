"""The moderation policy: pure decisions over plain data, applied by the bridge and the web app."""
