"""Looking again for adopted cameras that stopped answering.

A camera that moved while the box was off (or whose new lease came with no Hello the box
heard) says nothing more: cameras announce themselves when they boot, not when their
address changes under a running box's nose. So while an adopted camera is not online, the
box probes its interfaces and `[onvif] hosts` every `refind_s`; `follow.follow_if_lost`
then decides whether an answer is that camera at a new address.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from nvr_edge import Appliance

log = logging.getLogger(__name__)


def missing_cameras(appliance: Appliance) -> list[str]:
    """Adopted cameras of the configuration that are not online now."""
    adopted = appliance.config.sections["onvif"].adopted
    cameras = appliance.status().get("cameras", {})
    return [c for c in adopted if c in cameras and cameras[c].get("state") != "online"]


class Refinder:
    """Calls `probe()` every `every_s` seconds while `missing()` names a camera."""

    def __init__(self, missing: Callable[[], list[str]], probe: Callable[[], None],
                 every_s: float) -> None:
        self.missing = missing
        self.probe = probe
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="onvif-refind", daemon=True)

    def start(self) -> Refinder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                missing = self.missing()
                if missing:
                    log.info("discovery: looking for %s, not online", ", ".join(missing))
                    self.probe()
            except Exception:  # the search goes on after a failed round
                log.exception("discovery: looking for missing cameras failed")
