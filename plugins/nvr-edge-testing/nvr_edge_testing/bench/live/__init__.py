"""`nvr-edge bench live`: glass-to-glass latency of the live view, measured in a real
browser against a direct RTSP decoder in the same run. See docs/BENCHMARKS.md."""
