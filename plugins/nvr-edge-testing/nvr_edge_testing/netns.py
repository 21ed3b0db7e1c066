"""Network namespaces a test makes for itself, joined by veth pairs.

Multicast tests run here, never on the machine's own interfaces (loopback carries no
multicast, and a probe must not leave through a real LAN). Root only; every namespace is
deleted on exit, which deletes its veth ends too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from types import TracebackType


def can_make_namespaces() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


class Namespaces:
    def __init__(self, prefix: str) -> None:
        self.prefix = f"{prefix}{os.getpid() % 100000}"
        self.names: list[str] = []
        self._links = 0

    def add(self, short: str) -> str:
        name = f"{self.prefix}-{short}"
        _ip("netns", "add", name)
        self.names.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        return name

    def link(self, a: str, a_address: str, b: str, b_address: str) -> None:
        """A veth pair from namespace `a` to `b`, with `x.x.x.x/nn` addresses, up."""
        self._links += 1
        end_a, end_b = f"veth{self._links}a", f"veth{self._links}b"
        _ip("link", "add", end_a, "netns", a, "type", "veth", "peer", "name", end_b,
            "netns", b)
        for ns, end, address in ((a, end_a, a_address), (b, end_b, b_address)):
            self.run(ns, "ip", "addr", "add", address, "dev", end)
            self.run(ns, "ip", "link", "set", end, "up")

    def route(self, ns: str, destination: str, via: str) -> None:
        self.run(ns, "ip", "route", "add", destination, "via", via)

    def forward(self, ns: str) -> None:
        """Make `ns` a router (unicast only: multicast does not cross it, as on a LAN)."""
        self.run(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")

    def argv(self, ns: str, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *command]

    def run(self, ns: str, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(ns, command), check=True, capture_output=True,
                              text=True, timeout=30)

    def close(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.names.clear()

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)
