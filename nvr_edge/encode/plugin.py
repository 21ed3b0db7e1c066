"""Built-in plugin `encoders`: the `[encoders]` section, the probe of every offer at start
(a thread; each probe a child process) or on demand, and its results as a status part."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nvr_edge.api import Command, ControlError
from nvr_edge.config import config_key, read_section
from nvr_edge.encode import handover
from nvr_edge.encode.board import HW_FILE, board_preference
from nvr_edge.encode.offer import EncoderOffer, EncodeTarget
from nvr_edge.encode.policy import RetryPolicy, rank
from nvr_edge.encode.probe import ProbeResult, probe
from nvr_edge.encode.session import EncoderSession
from nvr_edge.hookspecs import hookimpl
from nvr_edge.models import Alert, AlertLevel

if TYPE_CHECKING:
    import pluggy

    from nvr_edge.api import Appliance
    from nvr_edge.config import Config, ConfigTable

log = logging.getLogger(__name__)
SECTION = "encoders"


@dataclass(frozen=True)
class EncodersSettings:
    hw_file: Path = config_key(HW_FILE, doc="the board definition naming `encoder.prefer`")
    prefer: str = config_key(
        "", doc='an encoder name to rank first, over the board\'s choice ("": the board\'s)')
    probe_at_start: bool = config_key(True, doc="test-encode every offer when the box starts")
    probe_width: int = config_key(1280, lo=16, hi=7680, doc="the probe's picture width")
    probe_height: int = config_key(720, lo=16, hi=4320, doc="the probe's picture height")
    probe_timeout_s: float = config_key(
        20.0, lo=1.0, hi=300.0,
        doc="a probe whose encode takes longer fails (its process is killed); counted from "
            "when the probe process is ready")
    probe_startup_timeout_s: float = config_key(
        300.0, lo=1.0, hi=3600.0,
        doc="a probe process not ready (Python started, PyAV imported) within this fails; "
            "generous: a slow board or an emulator takes tens of seconds")
    stall_frames: int = config_key(
        30, lo=1, hi=10_000, doc="frames without a packet before an encoder counts as stalled")
    stall_s: float = config_key(5.0, lo=0.1, hi=600.0,
                                doc="seconds without a packet before an encoder counts as stalled")
    retry_s: float = config_key(60.0, lo=1.0, hi=86_400.0,
                                doc="first wait before a failed encoder is tried again (doubling)")
    retry_max_s: float = config_key(3600.0, lo=1.0, hi=86_400.0, doc="the longest such wait")
    rung_budget_pixels_per_s: int = config_key(
        6_000_000, lo=0, hi=2_000_000_000,
        doc="what the transcoded live rungs may encode in software at once, all cameras "
            "together (pixels per second: a 240p rung is 2.6 M, a 360p one 5.8 M; 0: none)")


def settings_of(config: Config | None) -> EncodersSettings:
    found = config.sections.get(SECTION) if config is not None else None
    return found if isinstance(found, EncodersSettings) else EncodersSettings()


def _read(table: ConfigTable) -> EncodersSettings:
    return read_section(EncodersSettings, table)


class Encoders:
    """The offers of one plugin manager, their last probe, and sessions built from them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.results: dict[str, ProbeResult] = {}
        self.prefer: str | None = None
        self.probing = False
        self._probe_one_at_a_time = threading.Lock()
        self._stop = threading.Event()
        self.device_poll_s = 10.0
        self._context: tuple[pluggy.PluginManager, Config, Callable[[Alert], None]] | None \
            = None

    def offers(self, pm: pluggy.PluginManager, config: Config | None) -> list[EncoderOffer]:
        return [o for offers in reversed(pm.hook.nvr_encoders(config=config)) for o in offers]

    def probe_all(self, pm: pluggy.PluginManager, config: Config | None,
                  alert: Callable[[Alert], None] | None = None) -> list[ProbeResult]:
        """Probe every offer, one at a time (two cores: never several encodes at once)."""
        with self._probe_one_at_a_time:
            return self._probe_all(pm, config, alert)

    def _probe_all(self, pm: pluggy.PluginManager, config: Config | None,
                   alert: Callable[[Alert], None] | None) -> list[ProbeResult]:
        settings = settings_of(config)
        prefer = settings.prefer or board_preference(settings.hw_file)
        target = EncodeTarget(settings.probe_width, settings.probe_height)
        with self._lock:
            self.probing, self.prefer = True, prefer
        results = []
        try:
            for offer in self.offers(pm, config):
                result = probe(offer, target, settings.probe_timeout_s,
                               settings.probe_startup_timeout_s)
                log.info("encoder %s: %s (%.1f s, of which start-up %s s)", offer.name,
                         result.reason, result.seconds, result.startup_s)
                with self._lock:
                    self.results[offer.name] = result
                results.append(result)
                if not result.ok and offer.name == prefer and alert is not None:
                    alert(Alert("encoder_unavailable", AlertLevel.WARNING,
                                f"the board's encoder {offer.name} failed its probe: "
                                f"{result.reason}; the next usable encoder is used instead"))
        finally:
            with self._lock:
                self.probing = False
        return results

    def start_probes(self, pm: pluggy.PluginManager, config: Config,
                     alert: Callable[[Alert], None]) -> threading.Thread:
        self._context = (pm, config, alert)  # for probe_encoders on demand
        self._stop.clear()
        handover.clear(config.storage.state_dir)
        thread = threading.Thread(target=self._probe_and_watch, args=(pm, config, alert),
                                  daemon=True, name="encoder-probe")
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _probe_and_watch(self, pm: pluggy.PluginManager, config: Config,
                         alert: Callable[[Alert], None]) -> None:
        """Probe at start (unless told not to), then again whenever an offer's device node
        appears (a USB encoder plugged in, a driver module loaded late)."""
        if settings_of(config).probe_at_start:
            self.probe_and_publish(pm, config, alert)
        devices = {o.device for o in self.offers(pm, config) if o.device}
        present = {d for d in devices if os.path.exists(d)}
        while not self._stop.wait(self.device_poll_s):
            now = {d for d in devices if os.path.exists(d)}
            if now - present:
                log.info("device node(s) %s appeared: probing encoders again",
                         ", ".join(sorted(now - present)))
                self.probe_and_publish(pm, config, alert)
            present = now

    def probe_and_publish(self, pm: pluggy.PluginManager, config: Config,
                          alert: Callable[[Alert], None] | None) -> list[ProbeResult]:
        """Probe, then hand the usable offers to the camera workers (encode/handover.py)."""
        results = self.probe_all(pm, config, alert)
        handover.publish(config.storage.state_dir, self.ranked(pm, config))
        return results

    def ranked(self, pm: pluggy.PluginManager, config: Config | None) -> list[EncoderOffer]:
        """The offers that passed their probe, best first."""
        with self._lock:
            return rank(self.offers(pm, config), dict(self.results), self.prefer)

    def session(self, pm: pluggy.PluginManager, config: Config, target: EncodeTarget,
                alert: Callable[[Alert], None], camera: str | None = None) -> EncoderSession:
        """A session over the offers that passed their probe, best first."""
        return session_of(self.ranked(pm, config), config, target, alert, camera)

    def probe_now(self) -> dict[str, Any]:
        """The `probe_encoders` command: probe again (e.g. after a device node appeared)."""
        if self._context is None:
            raise ControlError("the appliance has not started its encoders")
        self.probe_and_publish(*self._context)
        return self.status()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"prefer": self.prefer, "probing": self.probing,
                    "probes": [r.as_dict() for r in self.results.values()]}


def session_of(ranked: list[EncoderOffer], config: Config | None, target: EncodeTarget,
               alert: Callable[[Alert], None], camera: str | None = None) -> EncoderSession:
    """A session over `ranked` with the `[encoders]` stall and retry settings (the main
    process's sessions, and a camera worker's over the handed-over offers)."""
    settings = settings_of(config)
    return EncoderSession(ranked, target, alert=alert, camera=camera,
                          stall_frames=settings.stall_frames, stall_s=settings.stall_s,
                          retry=RetryPolicy(settings.retry_s, settings.retry_max_s))


ENCODERS = Encoders()  # the process's one registry (the appliance's, or the CLI's)


@hookimpl
def nvr_config_sections() -> dict[str, Callable[[ConfigTable], Any]]:
    return {SECTION: _read}


@hookimpl
def nvr_commands(appliance: Appliance) -> list[Command]:
    return [Command("probe_encoders", "test-encode every offered encoder now (a few seconds "
                    "each at most) and answer the verdicts", lambda _args: ENCODERS.probe_now())]


@hookimpl
def nvr_shutdown(config: Config) -> None:
    ENCODERS.stop()


@hookimpl
def nvr_status_part(config: Config) -> dict[str, Any] | None:
    return {SECTION: ENCODERS.status()}
