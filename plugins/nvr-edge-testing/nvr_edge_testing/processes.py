"""Ending the processes a test or benchmark started, and tying them to the test run.

Servers a test starts end with the test run, however it ends.
Fixtures stop their servers on a normal exit, but a run killed by a CI time limit or a
crash ran no teardown, and QEMU guests and camera servers were found running half an hour
later. `tied(argv)` starts a command with the kernel's parent-death signal set (util-linux
`setpriv --pdeathsig`), so it is killed when the test process dies; the kit's pytest
plugin also turns SIGTERM and SIGHUP into an interrupt, so the teardowns do run then.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

SETPRIV = shutil.which("setpriv")


def end(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout_s`; reaped either way."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tied(argv: Sequence[str]) -> list[str]:
    """`argv`, killed when this process dies. The parent-death signal follows the thread
    that started the child: start long-lived servers from the main thread (fixtures do)."""
    if SETPRIV is None or threading.current_thread() is not threading.main_thread():
        return list(argv)
    return [SETPRIV, "--pdeathsig", "KILL", "--", *argv]


def interrupt_on_termination() -> None:
    """SIGTERM/SIGHUP raise KeyboardInterrupt in the main thread: pytest then stops and runs
    every fixture's teardown, which stops the servers cleanly."""
    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, interrupt)
