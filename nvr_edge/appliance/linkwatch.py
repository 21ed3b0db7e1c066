"""Link-up events from the kernel (netlink, via pyroute2): a camera LAN whose cable or
switch comes back is retried at once instead of at the next backoff step or probe."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class LinkWatcher:
    """Calls `on_up(ifname)` when a network interface's operational state becomes UP.

    Where netlink is not available (no pyroute2, a sandbox without it) the watcher stays
    silent and the worker relies on its once-a-second TCP probe alone."""

    def __init__(self, on_up: Callable[[str], None]) -> None:
        self.on_up = on_up
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="link-watch", daemon=True)

    def start(self) -> LinkWatcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        try:
            from pyroute2 import IPRoute
            from pyroute2.netlink.rtnl import RTMGRP_LINK

            # pyroute2 ties a socket to the thread that made it: make it here
            sock = IPRoute()
            sock.bind(groups=RTMGRP_LINK)
        except Exception as exc:  # no netlink here: the TCP probe still works
            log.debug("link events unavailable: %s", exc)
            self.ready.set()
            return
        # what is up already is not news: only a change to UP wakes anyone
        states: dict[int, str] = {}
        try:
            with IPRoute() as query:
                for link in query.get_links():
                    states[link["index"]] = link.get_attr("IFLA_OPERSTATE")
        except Exception as exc:
            log.debug("cannot list links: %s", exc)
        self.ready.set()
        try:
            # Block in get(): pyroute2 reads datagrams into a queue of its own, so select()
            # on the socket would miss messages already queued. A daemon thread; stop()
            # takes effect at the next link message.
            while not self.stop_event.is_set():
                for msg in sock.get():
                    self._seen(msg, states)
        except Exception as exc:
            log.debug("link watcher stopped: %s", exc)
        finally:
            sock.close()

    def _seen(self, msg: object, states: dict[int, str]) -> None:
        if msg.get("event") != "RTM_NEWLINK":  # type: ignore[attr-defined]
            return
        index = msg["index"]  # type: ignore[index]
        state = msg.get_attr("IFLA_OPERSTATE")  # type: ignore[attr-defined]
        before, states[index] = states.get(index), state
        if state == "UP" and before != "UP":
            name = msg.get_attr("IFLA_IFNAME")  # type: ignore[attr-defined]
            log.info("link %s is up", name)
            self.on_up(name)
