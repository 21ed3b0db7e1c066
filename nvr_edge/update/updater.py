"""One update at a time, on its own thread beside the recorders: check the request, fetch
the bundle to the data partition, check its signature and board (`rauc info`), install it
(`rauc install`), leave the health gate its orders (pending.json) and ask for the reboot.

The appliance has no right to reboot: it writes `reboot-request` in the update folder and
a root unit (nvr-update-reboot.path in the image) reboots."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nvr_edge.api import ControlError

from . import rauc
from .download import DownloadError, bundle_size, download
from .progress import PENDING_FILE, RESULT_FILE, Progress, write_json
from .request import UpdateRequest, parse_request, refusal

log = logging.getLogger(__name__)
BUNDLE_FILE = "bundle.raucb"
REBOOT_REQUEST = "reboot-request"
RESERVE_BYTES = 64 * 2**20  # free beside the bundle, over the recorders' own floors
REBOOT_DELAY_S = 6.0  # time for the `rebooting` state to reach the broker
OTHER_SLOT = {"A": "B", "B": "A"}


def booted_slot(cmdline: Path = Path("/proc/cmdline")) -> str | None:
    """This boot's A/B slot (GRUB's `rauc.slot=`), None when not booted from a slot."""
    with contextlib.suppress(OSError):
        for arg in cmdline.read_text().split():
            if arg.startswith("rauc.slot="):
                return arg.split("=", 1)[1] or None
    return None


@dataclass
class UpdaterSettings:
    folder: Path                      # on the data partition: bundle, state, gate files
    rauc: str = "rauc"
    system_conf: Path = Path("/etc/rauc/system.conf")
    booted: str | None = None         # the booted slot; None: not an A/B box
    running_version: str | None = None
    reserve_bytes: int = RESERVE_BYTES
    reboot_delay_s: float = REBOOT_DELAY_S
    lower_priority: bool = True       # the update's thread yields CPU to the recorders


class Updater:
    """`status` (a callable: the appliance's status document) tells the floors of the
    storage tiers, the cameras recording now and whether MQTT is connected."""

    def __init__(self, settings: UpdaterSettings,
                 status: Callable[[], dict[str, Any]]) -> None:
        self.settings, self.status = settings, status
        self.progress = Progress(settings.folder)
        self.lock = threading.Lock()
        self.worker: threading.Thread | None = None
        self.refresh()
        for leftover in (BUNDLE_FILE, BUNDLE_FILE + ".part"):  # of an interrupted update
            with contextlib.suppress(OSError):
                (settings.folder / leftover).unlink()

    # -- what the plugin asks ------------------------------------------------------------

    def part(self) -> dict[str, Any]:
        state = self.progress.get() or {"state": "idle"}
        return {**state, "running_version": self.settings.running_version,
                "booted_slot": self.settings.booted}

    def refresh(self) -> None:
        self.progress.refresh(self.settings.booted, self.busy())

    def busy(self) -> bool:
        return self.worker is not None and self.worker.is_alive()

    def start(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The `update` command: refuse now (ControlError naming why) or start the update
        and answer at once; the rest is told by the update state."""
        request = parse_request(args)
        s = self.settings
        with self.lock:
            self.refresh()
            state = (self.progress.get() or {}).get("state")
            # off an A/B boot the policy refuses before space matters: no folder made
            free = shutil.disk_usage(self._folder()).free if s.booted else None
            reserve = self._reserve() if s.booted else 0
            why = refusal(request, running=s.running_version, state=state, slot=s.booted,
                          free_bytes=free, bundle_bytes=None, reserve_bytes=reserve)
            if why is None:  # the size needs the server: asked only for a request that passed
                try:
                    size = bundle_size(request.url)
                except DownloadError as exc:
                    raise ControlError(f"update refused: {exc}") from None
                why = refusal(request, running=s.running_version, state=state, slot=s.booted,
                              free_bytes=free, bundle_bytes=size, reserve_bytes=reserve)
            if why is not None:
                raise ControlError(f"update refused: {why}")
            with contextlib.suppress(FileNotFoundError):  # an earlier update's verdict
                (s.folder / RESULT_FILE).unlink()
            self.progress.set("downloading", str(request.version), percent=0)
            self.worker = threading.Thread(target=self._run, args=(request,),
                                           name="nvr-update", daemon=True)
            self.worker.start()
        return {"accepted": True, "version": str(request.version),
                "bytes": size, "slot": OTHER_SLOT.get(s.booted or "")}

    # -- the update's thread -------------------------------------------------------------

    def _run(self, request: UpdateRequest) -> None:
        version = str(request.version)
        if self.settings.lower_priority:
            with contextlib.suppress(OSError):  # this thread only (Linux: a tid is a pid)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            self._update(request, version)
        except (DownloadError, rauc.RaucError, OSError) as exc:
            log.warning("update to %s failed: %s", version, exc)
            self.progress.set("failed", version, reason=str(exc))
        except Exception as exc:  # a bug ends this update, never the appliance
            log.exception("update to %s failed", version)
            self.progress.set("failed", version, reason=f"internal error: {exc!r}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                (self.settings.folder / BUNDLE_FILE).unlink()

    def _update(self, request: UpdateRequest, version: str) -> None:
        s = self.settings
        bundle = s.folder / BUNDLE_FILE
        log.info("update to %s: downloading the bundle", version)

        def fetched(done: int, total: int | None) -> None:
            if total:
                self.progress.percent(done * 100 // total)

        got = download(request.url, bundle, sha256=request.sha256, progress=fetched,
                       keep_free=self._reserve())
        self.progress.set("verifying", version, bytes=got.bytes, sha256=got.sha256)
        system = rauc.read_system_conf(s.system_conf)
        try:
            info = rauc.bundle_info(s.rauc, bundle, system.keyring)
        except rauc.RaucError as exc:
            raise rauc.RaucError(f"signature check failed: {exc}") from None
        if info.compatible != system.compatible:
            raise rauc.RaucError(f"the bundle is for {info.compatible!r}, this box is "
                                 f"{system.compatible!r}")
        if info.version != version:
            raise rauc.RaucError(f"the bundle is version {info.version}, the request "
                                 f"expected {version}")
        self.progress.set("installing", version, percent=0)
        rauc.install(s.rauc, bundle, lambda percent, _what: self.progress.percent(percent))
        bundle.unlink(missing_ok=True)  # installed: its space belongs to recordings again
        target = OTHER_SLOT.get(s.booted or "", "")
        write_json(s.folder / PENDING_FILE,
                   self._orders(target, version, request.health_timeout_s))
        self.progress.set("rebooting", version, slot=target)
        log.info("update to %s installed in slot %s: rebooting in %.0f s", version, target,
                 s.reboot_delay_s)
        time.sleep(s.reboot_delay_s)
        write_json(s.folder / REBOOT_REQUEST, {"version": version})

    def _orders(self, slot: str, version: str, timeout_s: int) -> dict[str, Any]:
        """pending.json: the gate waits for these cameras (those recording now) to close a
        segment on the new slot, and for MQTT if it is connected now."""
        status = self.status()
        cameras = sorted(cam for cam, info in status.get("cameras", {}).items()
                         if info.get("state") == "online")
        mqtt = bool(((status.get("plugins") or {}).get("mqtt") or {}).get("connected"))
        return {"slot": slot, "version": version, "cameras": cameras, "mqtt": mqtt,
                "timeout_s": timeout_s,
                "from_version": self.settings.running_version, "from_slot": self.settings.booted}

    # -- space -----------------------------------------------------------------------------

    def _folder(self) -> Path:
        self.settings.folder.mkdir(parents=True, exist_ok=True)
        return self.settings.folder

    def _reserve(self) -> int:
        """RESERVE plus the floor of each storage tier on the update folder's file system:
        the bundle must never push the recorders into deleting recordings."""
        device = self._folder().stat().st_dev
        floors = 0
        for tier in (self.status().get("tiers") or {}).values():
            with contextlib.suppress(OSError, TypeError):
                if Path(tier["path"]).stat().st_dev == device:
                    floors += int(tier.get("floor_bytes") or 0)
        return self.settings.reserve_bytes + floors
