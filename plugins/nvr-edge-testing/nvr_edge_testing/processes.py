"""Ending the processes a test or benchmark started."""

from __future__ import annotations

import signal
import subprocess


def end(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout_s`; reaped either way."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
