"""The gateway's read-only status page and its JSON API (``GET /api/status``)."""
