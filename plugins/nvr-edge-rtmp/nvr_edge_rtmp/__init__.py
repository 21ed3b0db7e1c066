"""nvr-edge plugin: RTMP push of a camera's live stream (emergency broadcast, streaming)."""

__version__ = "0.1.0"
