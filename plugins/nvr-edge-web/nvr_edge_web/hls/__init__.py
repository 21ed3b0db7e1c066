"""Low-latency HLS (fMP4 parts and segments) for the live view."""
