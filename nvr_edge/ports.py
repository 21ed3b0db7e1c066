"""A free TCP port, for the local servers that tests, benchmarks and the demo start.

Stdlib only, like simcam: importable anywhere in the project."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at `host` now (the kernel's pick; the caller binds it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
