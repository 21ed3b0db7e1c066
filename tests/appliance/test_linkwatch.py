"""Link-up events from the kernel cut a camera's backoff short (real netlink, a real veth
pair made by the test; it carries no traffic). One watcher in the supervisor signals the
workers, which hold no netlink socket."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from nvr_edge.appliance.linkwatch import LinkWatcher

from ..helpers import rows


class VethPair:
    def __init__(self) -> None:
        from pyroute2 import IPRoute

        self.ip = IPRoute()
        self.names = (f"nvrt{os.getpid() % 10000}a", f"nvrt{os.getpid() % 10000}b")
        try:
            self.ip.link("add", ifname=self.names[0], kind="veth", peer=self.names[1])
        except Exception as exc:
            self.ip.close()
            pytest.skip(f"cannot create a veth pair here ({exc}): needs CAP_NET_ADMIN")

    def up(self) -> None:
        for name in self.names:
            self.ip.link("set", index=self.ip.link_lookup(ifname=name)[0], state="up")

    def remove(self) -> None:
        found = self.ip.link_lookup(ifname=self.names[0])
        if found:
            self.ip.link("del", index=found[0])
        self.ip.close()


@pytest.fixture
def veth() -> Iterator[VethPair]:
    pair = VethPair()
    try:
        yield pair
    finally:
        pair.remove()


def test_a_link_coming_up_is_reported(veth: VethPair) -> None:
    seen: list[str] = []
    event = threading.Event()
    watcher = LinkWatcher(lambda name: (seen.append(name), event.set())).start()
    try:
        assert watcher.ready.wait(5)
        veth.up()
        # the kernel reports operational UP after its own link-watch delay (seen: 1-5 s)
        assert event.wait(20), "no link-up event"
        assert set(seen) <= set(veth.names) and seen
    finally:
        watcher.stop()


def netlink_sockets(pid: int) -> int:
    """How many netlink sockets the process holds (its fds against /proc/net/netlink)."""
    lines = Path("/proc/net/netlink").read_text().splitlines()[1:]
    inodes = {f"socket:[{line.split()[-1]}]" for line in lines}
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd) in inodes)


@pytest.mark.slow
def test_link_up_ends_a_long_backoff_at_once(tmp_path: Path, cameras: SimCameraServer,
                                             veth: VethPair) -> None:
    """Backoff 45 s and probes only every 60 s: without the link event the camera would be
    retried 45 s after it failed; with it, as soon as the kernel reports the link up."""
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)}, recording={
        "probe_interval_s": 60.0,
        "retry": {"initial_delay_ms": 45_000, "max_delay_ms": 45_000}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "cam1: online" in app.log, 30, "online")
        # one watcher, in the supervisor: the worker holds no netlink socket of its own
        assert app.process is not None
        wait_for(lambda: netlink_sockets(app.process.pid) >= 1, 10, "the supervisor's watcher")
        assert [netlink_sockets(pid) for pid in app.worker_pids("cam1")] == [0]
        cameras.stop()
        wait_for(lambda: "cam1: offline" in app.log, 30, "offline")
        cameras.start()
        time.sleep(1)
        veth.up()
        up = time.time()
        wait_for(lambda: "woken (a link came up or the device was plugged in)" in app.log, 25,
                 "the worker woken by the link event")
        resumed = wait_for(lambda: [r for r in rows(config) if r.start_ms > up * 1000] or
                           app.log.count("cam1: online") >= 2, 15, "online again")
        assert resumed
        assert time.time() - up < 30  # well before the 45 s backoff would have ended
        assert app.stop() == 0
