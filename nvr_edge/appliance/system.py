"""Readings of the box itself for health reports: CPU, memory, temperature, load.

Each reading is None where the machine does not offer it (no thermal zone in a VM)."""

from __future__ import annotations

import os
from pathlib import Path

from nvr_edge.procfs import rss_mib

THERMAL_ROOT = Path("/sys/class/thermal")


class SystemSampler:
    """CPU use over the time between two samples, plus instant readings."""

    def __init__(self) -> None:
        self._cpu_prev: tuple[int, int] | None = None

    def sample(self) -> dict[str, float | None]:
        return {
            "cpu_percent": self._cpu_percent(),
            "memory_percent": memory_percent(),
            "temperature_c": temperature_c(),
            "load_1m": round(os.getloadavg()[0], 2),
            "appliance_rss_mb": _own_rss_mb(),
        }

    def _cpu_percent(self) -> float | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        values = [int(v) for v in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        total = sum(values[:8])
        previous, self._cpu_prev = self._cpu_prev, (idle, total)
        if previous is None or total <= previous[1]:
            return None
        busy = (total - previous[1]) - (idle - previous[0])
        return round(100 * busy / (total - previous[1]), 1)


def memory_percent() -> float | None:
    """Memory in use (not reclaimable), percent of the total."""
    info: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    total, available = info.get("MemTotal"), info.get("MemAvailable")
    if not total or available is None:
        return None
    return round(100 * (total - available) / total, 1)


def temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    """The hottest thermal zone (the SoC on ARM boards), or None where none is readable."""
    readings = []
    for zone in root.glob("thermal_zone*/temp"):
        try:
            readings.append(int(zone.read_text().strip()) / 1000)
        except (OSError, ValueError):
            continue
    return round(max(readings), 1) if readings else None


def _own_rss_mb() -> float | None:
    rss = rss_mib()
    return None if rss is None else round(rss, 1)
