"""nvr-edge plugin: HTTP API, page, metrics."""
