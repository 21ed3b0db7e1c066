"""Is the camera there at all? A TCP connect to its RTSP port, cheap enough to run each second."""

from __future__ import annotations

import socket


def tcp_reachable(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
