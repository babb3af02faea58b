"""The edges: wire formats and sessions. Each protocol maps the error family itself."""
