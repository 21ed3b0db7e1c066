"""Reading processes from /proc: one parser for the supervisor's health checks, the status
and the benchmarks (no psutil on the board)."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses):
    field 0 is the state, 1 the parent pid, 11/12 user/system ticks."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU time of every thread of `pid` so far (None: it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wakeups(pid: int | str) -> int | None:
    """Times the threads of `pid` alive now went to sleep and were woken (voluntary context
    switches, summed over /proc/<pid>/task/*): what a process idling on timers costs,
    in a count that load on other cores barely moves (None: it is gone)."""
    total, seen = 0, False
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # a thread that ended meanwhile
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total, seen = total + int(line.split()[1]), True
    return total if seen else None


def parent_pid(pid: int | str) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` now."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        if parent_pid(stat.parent.name) == pid:
            children.append(int(stat.parent.name))
    return children


def rss_mib(pid: int | str = "self") -> float | None:
    """Resident memory, in MiB (None: the process is gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * _PAGE / 2**20


def memory_mib(pid: int) -> dict[str, float]:
    """PSS (shared pages split among their users) and RSS, in MiB."""
    values: dict[str, float] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss"):
            values[key.lower() + "_mib"] = round(int(rest.split()[0]) / 1024, 2)
    return values
