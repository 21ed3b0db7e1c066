"""The supervisor: the main process's loop that owns the camera workers and the catalog.

It starts one worker process per camera, turns their messages into catalog rows and hook
calls, watches their health (CPU, memory, segment rate), restarts or disables them, keeps
each storage tier above its free-space floor, runs the tier mover, replays spooled catalog
writes, and on SIGTERM/SIGINT stops every worker so each closes its open
segment before the process exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pluggy

from nvr_edge.appliance.control import ApplianceControl, ConfigChange
from nvr_edge.appliance.health import RestartGuard, too_few_segments
from nvr_edge.appliance.linkwatch import LinkWatcher
from nvr_edge.appliance.observers import Observers
from nvr_edge.appliance.space_pause import (
    PAUSED_REASON,
    expected_segment_bytes,
    short_of_space,
)
from nvr_edge.appliance.status import (
    cache_backlog,
    status_document,
    tier_rows,
    write_status,
)
from nvr_edge.appliance.system import SystemSampler
from nvr_edge.appliance.workers import CPU_ALERT_EVERY_S, AfterExit, CameraRuntime, start_worker
from nvr_edge.camera import messages
from nvr_edge.camera.worker import EXIT_FATAL, EXIT_NO_SPACE
from nvr_edge.catalog import CatalogError
from nvr_edge.catalog.spool import SpooledCatalog
from nvr_edge.config import CameraConfig, Config
from nvr_edge.config_store import secret_texts
from nvr_edge.encode import handover
from nvr_edge.encode.plugin import settings_of
from nvr_edge.live.hub import LIVE, MAIN, LiveHub
from nvr_edge.live.ladder import RUNG_NAMES
from nvr_edge.live.rung_gate import RungGate
from nvr_edge.logs import mask_known
from nvr_edge.models import (
    Alert,
    AlertLevel,
    CameraState,
    SegmentRecord,
    Tier,
    TierState,
    iso_utc,
    now_ms,
)
from nvr_edge.storage.mover import MoverEvent, MoverEventKind, TierMover
from nvr_edge.storage.recovery import reconcile, repair_parts
from nvr_edge.storage.space import SpaceManager
from nvr_edge.storage.spool_reserve import ReservedSpool
from nvr_edge.storage.writer_lock import is_held
from nvr_edge.throttle import Throttle

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
SPACE_CHECK_S = 5.0
RETENTION_CHECK_S = 300.0
CATALOG_CHECK_S = 5.0  # a lost catalog is noticed within this, then rebuilt from the files


# Read only at start-up: a change is written to the file and waits for the next start.
RESTART_KEYS: dict[str, Callable[[Config], object]] = {
    "device.id": lambda c: c.device_id,
    "catalog.url": lambda c: c.catalog_url,
    "storage.cache_dir": lambda c: c.storage.cache_dir,
    "storage.archive_dir": lambda c: c.storage.archive_dir,
    "storage.state_dir": lambda c: c.storage.state_dir,
}


def _worker_view(config: Config, camera: CameraConfig) -> tuple[object, ...]:
    """Everything a camera worker reads: when it changes the worker restarts."""
    return (camera, config.recording, config.storage, config.device_id)


class Supervisor:
    def __init__(self, config: Config, pm: pluggy.PluginManager, catalog: SpooledCatalog,
                 log_level: int = logging.INFO) -> None:
        self.config, self.pm, self.catalog = config, pm, catalog
        self.log_level = log_level
        self.ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported PyAV, pyroute2 and the worker's
        # plugins, with its objects frozen out of the GC: shared pages, small PSS.
        self.ctx.set_forkserver_preload(["nvr_edge.camera.preload"])
        self.cameras: dict[str, CameraRuntime] = {}
        # Cleanup also runs on the mover's thread: its alerts reach the hooks from this one.
        self.space_alerts: queue.SimpleQueue[Alert] = queue.SimpleQueue()
        self.space = SpaceManager(config, catalog, self.space_alerts.put)
        self.mover_events: queue.SimpleQueue[MoverEvent] = queue.SimpleQueue()
        self.mover = TierMover(config, catalog, self.mover_events.put, self.space)
        self.tier_states: dict[str, str] = {}
        self.reconcile_pending = False
        self.started = time.monotonic()
        self._next: dict[str, float] = {}
        self.control = ApplianceControl(self)
        self.system = SystemSampler()
        self.live = LiveHub()
        # the transcoded rungs' admission: on the ladder, an encoder, the software budget
        # (read at start: a changed budget applies at the next start)
        self.live.gate = RungGate(
            settings_of(config).rung_budget_pixels_per_s, self.live.info,
            functools.partial(handover.read, config.storage.state_dir))
        # One netlink watcher for the box: a link coming up wakes every worker's backoff
        # (workers hold no netlink socket, and no pyroute2, of their own)
        self.links = LinkWatcher(self._link_up)
        self.observers = Observers(pm, self._alert)
        self.duty_failures: Counter[str] = Counter()
        self.duty_log = Throttle(60.0)  # one traceback per duty and minute, then counts

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start everything; if a step fails, what was started is stopped again."""
        try:
            self.live.start()
            self.links.start()
            self._heal_catalog()
            self._recover()
            for camera in self._discover(self.config):
                self.cameras[camera.id] = self._runtime(camera)
            self.observers.notify("nvr_startup", config=self.config, catalog=self.catalog,
                                  appliance=self.control)
            self._ask_object_store(self.config)
            for runtime in self.cameras.values():
                if runtime.camera.enabled:
                    self._spawn(runtime)
                else:
                    self._set_state(runtime, CameraState.DISABLED, "disabled in the config")
            self.mover.start()
        except BaseException:
            log.error("start-up failed; stopping what was started")
            self.stop()
            raise

    def run(self, should_stop: Callable[[], bool],
            on_tick: Callable[[Supervisor], None] | None = None, tick_s: float = 5.0) -> None:
        next_tick = time.monotonic() + tick_s
        try:
            while not should_stop():
                self.poll(0.5)
                if on_tick and time.monotonic() >= next_tick:
                    next_tick += tick_s
                    on_tick(self)
        finally:
            self.stop()

    def poll(self, timeout: float) -> None:
        waitables: dict[Any, tuple[str, CameraRuntime]] = {}
        for runtime in self.cameras.values():
            if runtime.process is not None:
                waitables[runtime.conn] = ("conn", runtime)
                waitables[runtime.process.sentinel] = ("exit", runtime)
        ready = multiprocessing.connection.wait(list(waitables), timeout) if waitables else []
        if not waitables:
            time.sleep(timeout)
        for obj in ready:
            kind, runtime = waitables[obj]
            if kind == "conn":
                self._duty("worker messages", self._drain, runtime)
        for obj in ready:
            kind, runtime = waitables[obj]
            if kind == "exit" and runtime.process is not None:
                self._duty("worker exit", self._reap, runtime)
        self._duty("restarts", self._restart_due)
        self.control.run_pending()
        self._maintain()

    def _duty(self, name: str, action: Callable[..., object], *args: Any) -> None:
        """Run one of the loop's duties; one that raises is logged, counted in the status
        and alerted once, and the loop goes on (the next tick tries again)."""
        try:
            action(*args)
        except Exception as exc:
            self.duty_failures[name] += 1
            skipped = self.duty_log.allow(name)
            if skipped == 0:
                log.exception("supervisor: %s failed (the loop goes on)", name)
            elif skipped is not None:
                log.error("supervisor: %s failed again: %s: %s (%d more failure(s) not logged)",
                          name, type(exc).__name__, exc, skipped)
            if self.duty_failures[name] == 1:
                self._alert(Alert("supervisor_duty_failed", AlertLevel.WARNING,
                                  f"{name} failed: {type(exc).__name__}: {exc}; retried "
                                  "on the next tick"))

    def _link_up(self, ifname: str) -> None:
        """(The link watcher's thread.) A network link came up: every worker ends its
        backoff wait now (SIGUSR1) instead of at its next step or probe."""
        for runtime in list(self.cameras.values()):
            _wake(runtime)

    def stop(self) -> None:
        """Stop in order: mover, workers (each closes its segment), catalog writes, plugins,
        live hub. Safe after a partial start."""
        self.links.stop()
        self.mover.stop()
        running = [r for r in self.cameras.values() if r.process is not None]
        for runtime in running:
            runtime.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for runtime in running:
            while runtime.process is not None and runtime.process.is_alive() \
                    and time.monotonic() < deadline:
                self._drain(runtime, timeout=0.2)
            if runtime.process is not None and runtime.process.is_alive():
                log.error("%s: worker ignored SIGTERM for %.0f s; killing it",
                          runtime.camera.id, STOP_GRACE_S)
                runtime.process.kill()
            self._drain(runtime)
            if runtime.process is not None:
                runtime.process.join()
                if runtime.process.exitcode:
                    log.warning("%s: worker exited with code %s at the stop",
                                runtime.camera.id, runtime.process.exitcode)
                runtime.process = None
            runtime.conn.close()
            # A worker killed or crashed at the stop left its segment a `.part`: repaired
            # and indexed now, not at the next start (which may be never, or another box).
            self._duty("repair at the stop", self._repair_after_exit, runtime.camera.id)
        for runtime in self.cameras.values():
            if runtime.state != CameraState.STOPPED:
                self._set_state(runtime, CameraState.STOPPED, "appliance stopped")
        try:
            self.catalog.drain()
            self._write_status()
        finally:
            self.observers.notify("nvr_shutdown", config=self.config)
            self.live.stop()

    # -- periodic duties -----------------------------------------------------------------

    def _due(self, name: str, every_s: float) -> bool:
        now = time.monotonic()
        if now >= self._next.get(name, 0.0):
            self._next[name] = now + every_s
            return True
        return False

    def _maintain(self) -> None:
        if self.catalog.spooled and self._due("drain", 2.0):
            self._duty("catalog spool replay", self.catalog.drain)
        if self._due("catalog storage", CATALOG_CHECK_S):
            self._duty("catalog storage check", self._heal_catalog)
        if self.reconcile_pending and self.catalog.healthy and self._due("recovery", 5.0):
            self._duty("recovery", self._recover)
        while not self.mover_events.empty():
            self._duty("mover event", self._mover_event, self.mover_events.get())
        for alerts in self._thread_alerts():
            while not alerts.empty():
                self._alert(alerts.get())
        if self._due("health", self.config.health.check_interval_s):
            self._duty("health check", self._check_health)
        if self._due("space", SPACE_CHECK_S):
            self._duty("free-space floors", self.space.enforce_floors)
            if isinstance(self.catalog.spool, ReservedSpool):
                self._duty("spool reserve", self.catalog.spool.reserve.ensure)
        if self._due("retention", RETENTION_CHECK_S):
            self._duty("retention", self.space.apply_retention,
                       tuple(r.camera for r in self.cameras.values()))
        if self._due("status", 2.0):
            self._duty("status", self._write_status)

    def _heal_catalog(self) -> None:
        """A catalog lost or damaged under us (or found so at start) is replaced by an empty
        one by its backend; the segment files are the truth, so recovery indexes them all."""
        problem = self.catalog.heal_storage()
        if problem is None:
            return
        self._alert(Alert("catalog_damaged", AlertLevel.CRITICAL,
                          f"catalog {self.catalog.display_url}: {problem}; rebuilding it "
                          "from the segment files"))
        self.reconcile_pending = True

    def _thread_alerts(self) -> list[queue.SimpleQueue[Alert]]:
        """Alerts raised on other threads (the mover's cleanup, a spool append), queued
        so that the hooks hear them from this one."""
        spool = self.catalog.spool
        return [self.space_alerts] + ([spool.alerts] if isinstance(spool, ReservedSpool)
                                      else [])

    def _recover(self) -> None:
        """Compare both tiers with the catalog and repair. At start-up nothing else runs;
        later (the catalog was down at start-up) workers write on and the mover is paused.
        With the catalog down only the `.part` files are repaired (their rows spool) and
        the full comparison waits for the catalog."""
        try:
            with self.mover.busy:
                report = reconcile(self.config, self.catalog, repair=True)
            self.reconcile_pending = False
        except CatalogError as exc:
            log.warning("catalog unavailable (%s): repairing files now, the full check "
                        "when the catalog is back", exc)
            report = repair_parts(self.config, self.catalog)
            self.reconcile_pending = True
        if report.differences:
            log.info("recovery: %d difference(s) repaired", len(report.differences))

    def _check_health(self) -> None:
        health = self.config.health
        now = time.monotonic()
        for runtime in self.cameras.values():
            if runtime.process is None or runtime.sampler is None or runtime.restart_reason:
                continue
            cam = runtime.camera.id
            sample = runtime.sampler.sample(now)
            if sample is not None and sample.cpu_percent > health.cpu_warn_percent \
                    and now - runtime.cpu_alerted_at > CPU_ALERT_EVERY_S:
                runtime.cpu_alerted_at = now
                self._alert(Alert("camera_cpu_high", AlertLevel.WARNING,
                                  f"camera {cam}: worker uses {sample.cpu_percent:.0f} % CPU",
                                  cam))
            if sample is not None and sample.rss_mb > health.rss_limit_mb:
                self._alert(Alert("camera_memory_high", AlertLevel.WARNING,
                                  f"camera {cam}: worker uses {sample.rss_mb:.0f} MB "
                                  f"(limit {health.rss_limit_mb} MB); restarting it", cam))
                self._stop_worker(runtime, None, "memory above the limit")
            elif too_few_segments(runtime.closed_at, runtime.online_since, now,
                                  health.segments_window_s,
                                  self.config.storage.segment_seconds):
                self._alert(Alert("camera_low_recording_rate", AlertLevel.WARNING,
                                  f"camera {cam}: too few segments in the last "
                                  f"{health.segments_window_s} s; restarting it", cam))
                self._stop_worker(runtime, None, "too few segments")

    def _mover_event(self, event: MoverEvent) -> None:
        if event.kind == MoverEventKind.MOVED:
            return
        state = TierState.DEGRADED if event.kind == MoverEventKind.DEGRADED else TierState.OK
        if self.tier_states.get("archive") == state:
            return
        self.tier_states["archive"] = state
        log.warning("archive tier %s: %s", state, event.detail)
        self.observers.notify("nvr_tier_state", tier=Tier.ARCHIVE, state=state,
                              reason=event.detail, config=self.config)
        if state == TierState.DEGRADED:
            self._alert(Alert("archive_unavailable", AlertLevel.CRITICAL,
                              f"archive tier degraded: {event.detail}; recording continues "
                              "on the cache"))
        else:
            self._alert(Alert("archive_available", AlertLevel.WARNING,
                              "archive tier back; draining the cache backlog"))

    # -- run-time changes (called through ApplianceControl, on this thread) ---------------

    def restart_camera(self, camera_id: str) -> None:
        runtime = self.cameras[camera_id]
        if not runtime.camera.enabled:
            raise ValueError(f"camera {camera_id!r} is disabled in the configuration")
        if runtime.process is not None:
            self._stop_worker(runtime, AfterExit.RESTART, "restart requested")
        else:  # waiting out a restart delay or a storm guard: try now
            runtime.guard.clear()
            self._spawn(runtime)

    def retry_camera(self, camera_id: str) -> None:
        """Try the camera now, without a restart (its USB device was plugged back): the
        worker ends its backoff wait; a recording worker is not disturbed. A worker
        waiting out a restart delay or the storm guard starts at the next tick."""
        runtime = self.cameras[camera_id]
        if not runtime.camera.enabled:
            raise ValueError(f"camera {camera_id!r} is disabled in the configuration")
        if runtime.process is not None:
            _wake(runtime)
        elif runtime.restart_at is not None:
            runtime.restart_at = time.monotonic()

    def apply_config(self, new: Config) -> ConfigChange:
        """Run `new` without touching cameras whose worker would see no difference."""
        old = self.config
        change = ConfigChange(restart_required=[key for key, read in RESTART_KEYS.items()
                                                if read(old) != read(new)])
        new = dataclasses.replace(  # keys read only at start-up keep their running values
            new, device_id=old.device_id, catalog_url=old.catalog_url,
            storage=dataclasses.replace(new.storage, cache_dir=old.storage.cache_dir,
                                        archive_dir=old.storage.archive_dir,
                                        state_dir=old.storage.state_dir))
        self.config = self.space.config = self.mover.config = new
        mask_known(secret_texts(new.document))  # workers started from now on get them too
        wanted = {camera.id: camera for camera in self._discover(new)}
        for camera_id, runtime in list(self.cameras.items()):
            if camera_id not in wanted:
                change.removed.append(camera_id)
                if runtime.process is not None:
                    self._stop_worker(runtime, AfterExit.REMOVE, "removed from the configuration")
                else:
                    self._forget(runtime)
                continue
            camera = wanted[camera_id]
            if _worker_view(old, runtime.camera) == _worker_view(new, camera):
                change.unchanged.append(camera_id)
                continue
            change.restarted.append(camera_id)
            runtime.camera = camera
            if not camera.enabled:
                self._disable(runtime)
            elif runtime.process is not None:
                self._stop_worker(runtime, AfterExit.RESTART, "configuration changed")
            else:
                self._spawn(runtime)
        for camera_id, camera in wanted.items():
            if camera_id not in self.cameras:
                change.added.append(camera_id)
                runtime = self.cameras[camera_id] = self._runtime(camera)
                if camera.enabled:
                    self._spawn(runtime)
                else:
                    self._disable(runtime)
        log.info("configuration applied: %s", change.as_dict())
        self.observers.notify("nvr_config_changed", config=new, previous=old)
        self._ask_object_store(new)
        return change

    def _ask_object_store(self, config: Config) -> None:
        """Whether a plugin copies segments off the box: it changes what cleanup may delete."""
        stores = [name for name in self.observers.notify("nvr_object_store", config=config)
                  if name]
        store = ", ".join(sorted(stores)) or None
        if store != self.space.object_store:
            log.info("delete_policy %r: %s", config.storage.delete_policy,
                     f"copies verified in {store}" if store else "no object store")
        self.space.object_store = store

    def _discover(self, config: Config) -> list[CameraConfig]:
        found: dict[str, CameraConfig] = {}
        for batch in self.observers.notify("nvr_discover_cameras", config=config):
            for camera in batch:
                found.setdefault(camera.id, camera)
        return list(found.values())

    def _runtime(self, camera: CameraConfig) -> CameraRuntime:
        health = self.config.health
        return CameraRuntime(camera, RestartGuard(health.storm_restarts, health.storm_window_s))

    def _disable(self, runtime: CameraRuntime) -> None:
        if runtime.process is not None:
            self._stop_worker(runtime, AfterExit.DISABLE, "recording turned off")
        else:
            runtime.restart_at, runtime.space_paused = None, False
            self._set_state(runtime, CameraState.DISABLED, "disabled in the config")

    def _forget(self, runtime: CameraRuntime) -> None:
        self._set_state(runtime, CameraState.STOPPED, "removed from the configuration")
        self.live.forget(runtime.camera.id)
        del self.cameras[runtime.camera.id]

    def _stop_worker(self, runtime: CameraRuntime, after_exit: AfterExit | None,
                     reason: str) -> None:
        """Stop gracefully (the worker closes its segment); _reap then does `after_exit`
        (None: a health restart, delayed and counted by the storm guard)."""
        runtime.after_exit, runtime.restart_reason = after_exit, reason
        runtime.process.terminate()

    # -- workers -------------------------------------------------------------------------

    def _spawn(self, runtime: CameraRuntime) -> None:
        camera_id = runtime.camera.id
        if is_held(self.config.storage.state_dir, camera_id):
            # A worker of an appliance that was killed still writes this camera's files:
            # start when it is gone, after its files are repaired and indexed.
            if not runtime.previous_writer:
                log.warning("%s: a previous worker still writes this camera's files; "
                            "starting when it exits", camera_id)
            self._set_state(runtime, CameraState.RESTARTING,
                            "waiting for the previous worker to exit")
            runtime.previous_writer = True
            runtime.restart_at = time.monotonic() + 0.5
            return
        if runtime.previous_writer:
            runtime.previous_writer = False
            self._duty("repair after a previous worker", self._reconcile_camera, camera_id)
        socks = start_worker(self.ctx, self.config, runtime, self.log_level)
        for stream in (LIVE, MAIN, *RUNG_NAMES):
            if stream in socks:
                self.live.attach(runtime.camera.id, socks[stream], stream)
            else:
                self.live.forget(runtime.camera.id, stream)

    def _reap(self, runtime: CameraRuntime) -> None:
        self._drain(runtime)
        process = runtime.process
        process.join()
        runtime.process = None
        runtime.conn.close()
        code = process.exitcode
        camera_id = runtime.camera.id
        # The dead worker's .part file is repaired and indexed before it is restarted. Only
        # that: the rest of the disk is the tier mover's, which keeps running. A repair that
        # fails must not keep the camera from restarting.
        self._duty("repair after a worker exit", self._repair_after_exit, camera_id)
        if runtime.after_exit == AfterExit.REMOVE:
            self._forget(runtime)
            return
        if runtime.after_exit == AfterExit.DISABLE:
            self._set_state(runtime, CameraState.DISABLED, "disabled in the config")
            return
        if runtime.after_exit == AfterExit.RESTART:
            self._set_state(runtime, CameraState.RESTARTING,
                            runtime.restart_reason or "restart requested")
            self._spawn(runtime)
            return
        if code == EXIT_NO_SPACE or (code and short_of_space(self.space.policy, runtime)):
            self._pause_for_space(runtime)
            return
        if code == EXIT_FATAL:
            self._set_state(runtime, CameraState.DISABLED, "fatal error in the worker")
            self._alert(Alert("recording_fatal_error", AlertLevel.CRITICAL,
                              f"camera {camera_id}: worker failed fatally; camera disabled",
                              camera_id))
            return
        reason = runtime.restart_reason or f"worker exited with code {code}"
        now = time.monotonic()
        runtime.restarts += 1
        health = self.config.health
        if runtime.guard.record(now):
            runtime.guard.clear()
            runtime.restart_at = now + health.storm_disable_s
            self._set_state(runtime, CameraState.DISABLED,
                            f"restarted more than {health.storm_restarts} times in "
                            f"{health.storm_window_s} s; retrying in {health.storm_disable_s} s")
            self._alert(Alert("camera_unstable", AlertLevel.CRITICAL,
                              f"camera {camera_id}: restarting too often ({reason}); "
                              f"disabled for {health.storm_disable_s} s", camera_id))
            return
        runtime.restart_at = now + health.restart_delay_s
        log.error("%s: %s; restarting in %.0f s", camera_id, reason, health.restart_delay_s)
        self._set_state(runtime, CameraState.RESTARTING, reason)

    def _reconcile_camera(self, camera_id: str) -> None:
        """A worker this appliance did not start has let go of the camera: its last segment
        may be a `.part` or a closed file whose row it could not send anywhere."""
        try:
            with self.mover.busy:
                reconcile(self.config, self.catalog, repair=True, camera=camera_id)
        except CatalogError:
            repair_parts(self.config, self.catalog, camera_id)  # rows spool; the rest later
            self.reconcile_pending = True

    def _pause_for_space(self, runtime: CameraRuntime) -> None:
        """Not a crash: no restart delay, no storm guard; _restart_due resumes it."""
        camera_id = runtime.camera.id
        runtime.space_paused, runtime.restart_at = True, None
        runtime.space_pauses += 1
        self._set_state(runtime, CameraState.RESTARTING, PAUSED_REASON)
        self._alert(Alert("recording_paused_no_space", AlertLevel.CRITICAL,
                          f"camera {camera_id}: the cache ({self.config.storage.cache_dir}) "
                          "has no room for its next segment; recording resumes as soon as "
                          "there is", camera_id))
        self._duty("cleanup for a camera", self._make_room_for, runtime)

    def _make_room_for(self, runtime: CameraRuntime) -> None:
        """Clean the cache until the camera's next segment fits above its floor: the
        worker's "short of room" and the cleanup's start are one threshold."""
        self.space.make_room(Tier.CACHE, expected_segment_bytes(
            runtime, self.config.storage.segment_seconds))

    def _repair_after_exit(self, camera_id: str) -> None:
        report = repair_parts(self.config, self.catalog, camera_id)
        if report.differences:
            log.info("%s: %d file(s) left by the worker repaired", camera_id,
                     len(report.differences))

    def _restart_due(self) -> None:
        now = time.monotonic()
        for runtime in self.cameras.values():
            if runtime.process is None and runtime.restart_at is not None \
                    and now >= runtime.restart_at:
                self._spawn(runtime)
            elif runtime.process is None and runtime.space_paused \
                    and not short_of_space(self.space.policy, runtime):
                self._alert(Alert("recording_resumed", AlertLevel.WARNING,
                                  f"camera {runtime.camera.id}: the cache has room again; "
                                  "recording resumes", runtime.camera.id))
                self._spawn(runtime)

    # -- messages ------------------------------------------------------------------------

    def _drain(self, runtime: CameraRuntime, timeout: float = 0.0) -> None:
        conn = runtime.conn
        try:
            while conn.poll(timeout):
                self._handle(runtime, conn.recv())
                timeout = 0.0
        except (EOFError, OSError):
            pass

    def _handle(self, runtime: CameraRuntime, message: messages.WorkerMessage) -> None:
        match message:
            case messages.SegmentClosed(record=record, at=at):
                self._segment_closed(runtime, record, at)
            case messages.StateChanged(state=state, reason=reason):
                self._set_state(runtime, state, reason)
            case messages.AlertRaised(code=code, level=level, message=text):
                self._alert(Alert(code, level, text, runtime.camera.id))
            case messages.Stats(at=at, open_ms=open_ms, counters=counters,
                                transcoding=transcoding, rungs=rungs):
                runtime.counters, runtime.open_ms = counters, open_ms
                runtime.transcoding, runtime.rungs = transcoding, rungs
                runtime.ingest.update(at, counters.get("video_frames", 0),
                                      counters.get("bytes", 0))
            case messages.SpaceLow():
                self._make_room_for(runtime)
            case _:
                log.error("%s: unknown message from the worker: %r", runtime.camera.id,
                          message)

    def _segment_closed(self, runtime: CameraRuntime, record: SegmentRecord,
                        closed_at: float) -> None:
        # Never raises for a catalog that is down: the row is spooled and replayed later.
        segment_id = self.catalog.add_segment(record)
        record = SegmentRecord.from_dict({**record.to_dict(), "id": segment_id})
        runtime.segments += 1
        runtime.recorded_ms += record.duration_ms
        runtime.open_ms = 0
        runtime.bytes += record.bytes
        runtime.last_segment = record
        now = time.monotonic()
        runtime.closed_at = [t for t in runtime.closed_at
                             if now - t <= self.config.health.segments_window_s] + [closed_at]
        self.observers.notify("nvr_segment_closed", segment=record, config=self.config)

    def _set_state(self, runtime: CameraRuntime, state: CameraState, reason: str) -> None:
        if runtime.state == state and runtime.reason == reason:
            return
        if state == CameraState.ONLINE and runtime.state != CameraState.ONLINE:
            runtime.online_since = time.monotonic()
        elif state != CameraState.ONLINE:
            runtime.online_since = None
            runtime.ingest.reset()
        runtime.state, runtime.reason = state, reason
        log.info("%s: %s%s", runtime.camera.id, state, f" ({reason})" if reason else "")
        self.observers.notify("nvr_camera_state", camera_id=runtime.camera.id, state=state,
                              reason=reason, config=self.config)

    def alert(self, alert: Alert) -> None:
        """Raise an alert found outside the loop (start-up checks in run.py)."""
        self._alert(alert)

    def _alert(self, alert: Alert) -> None:
        log_fn = log.critical if alert.level == AlertLevel.CRITICAL else log.warning
        log_fn("alert %s: %s", alert.code, alert.message)
        self.observers.notify("nvr_alert", alert=alert, config=self.config)

    # -- status --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        cameras = {}
        for cam_id, r in self.cameras.items():
            last = r.last_segment
            cameras[cam_id] = {
                "state": str(r.state), "reason": r.reason,
                "pid": r.process.pid if r.process is not None else None,
                "restarts": r.restarts, "space_pauses": r.space_pauses,
                "segments": r.segments,
                "recorded_s": r.recorded_ms / 1000, "bytes": r.bytes,
                "last_segment": None if last is None else {
                    "path": last.path, "start": iso_utc(last.start_ms),
                    "end": iso_utc(last.end_ms)},
                "counters": r.counters,
                "transcoding": r.transcoding,
                "rungs": r.rungs,
                "ingest": {"fps": round(r.ingest.fps, 2), "kbps": round(r.ingest.kbps, 1),
                           "continuity": round(r.continuity(), 4)},
            }
        return status_document(
            device=self.config.device_id, running=True, updated_ms=now_ms(),
            uptime_s=time.monotonic() - self.started, cameras=cameras,
            tiers=tier_rows(self.space.tiers(), self.tier_states,
                            cache_backlog(self.catalog) if self.catalog.healthy else None),
            system=self.system.sample(),
            catalog={"url": self.catalog.display_url, "healthy": self.catalog.healthy,
                     "spooled_writes": self.catalog.spooled},
            plugins=self._plugin_status(),
            duty_failures=dict(self.duty_failures))

    def _plugin_status(self) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for part in self.observers.notify("nvr_status_part", config=self.config):
            if isinstance(part, dict):
                parts.update({k: v for k, v in part.items() if k != "failures"})
        return {**parts, "failures": self.observers.status()}

    def _write_status(self) -> None:
        status = self.status()
        self.control.publish_status(status)
        try:
            write_status(self.config.storage.state_dir, status)
        except OSError as exc:
            log.warning("cannot write the status file: %s", exc)
        self.observers.notify("nvr_status", status=status, config=self.config)


def _wake(runtime: CameraRuntime) -> None:
    """End the worker's backoff wait (SIGUSR1): it tries its camera now."""
    process = runtime.process
    if process is not None and process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGUSR1)
