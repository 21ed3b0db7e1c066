"""Waiting for things a test, benchmark or the demo started: a free port, a condition.

Stdlib only, like simcam, which imports it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at `host` now (the kernel's pick; the caller binds it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float, what: str,
             interval: float = 0.25) -> T:
    """`predicate()`'s first truthy value, polled every `interval` s; AssertionError naming
    `what` when `timeout` s pass without one (a test's failure, not an error)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} "
                         f"(last: {value!r})")


def accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on `host:port` now."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False
