"""The supervisor: the main process's loop that owns the camera workers and the catalog.

It starts one worker process per camera, turns their messages into catalog rows and hook
calls, repairs and restarts a worker that died, and on SIGTERM/SIGINT stops every worker so
each closes its open segment before the process exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .catalog import Catalog
from .config import CameraConfig, Config
from .models import Alert, CameraState, SegmentRecord
from .recovery import reconcile
from .worker import EXIT_FATAL, worker_main

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass
class CameraRuntime:
    """What the supervisor knows of one camera."""

    camera: CameraConfig
    process: Any = None
    conn: Any = None
    state: str = CameraState.STARTING
    reason: str = ""
    restarts: int = 0
    restart_at: float | None = None
    segments: int = 0
    recorded_ms: int = 0
    bytes: int = 0
    last_segment: SegmentRecord | None = None
    counters: dict[str, int] = field(default_factory=dict)


class Supervisor:
    def __init__(self, config: Config, pm: pluggy.PluginManager, catalog: Catalog,
                 log_level: int = logging.INFO) -> None:
        self.config, self.pm, self.catalog = config, pm, catalog
        self.log_level = log_level
        self.ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported PyAV: shared pages, small PSS.
        self.ctx.set_forkserver_preload(["nvr_edge.worker"])
        self.cameras: dict[str, CameraRuntime] = {}

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        report = reconcile(self.config, self.catalog, repair=True, writers_active=False)
        if report.differences:
            log.info("start-up recovery: %d difference(s) repaired", len(report.differences))
        discovered = self.pm.hook.nvr_discover_cameras(config=self.config)
        for batch in discovered:
            for camera in batch:
                if camera.id not in self.cameras:
                    self.cameras[camera.id] = CameraRuntime(camera)
        self.pm.hook.nvr_startup(config=self.config, catalog=self.catalog)
        for runtime in self.cameras.values():
            if runtime.camera.enabled:
                self._spawn(runtime)
            else:
                self._set_state(runtime, CameraState.DISABLED, "disabled in the config")

    def run(self, should_stop: Callable[[], bool],
            on_tick: Callable[[Supervisor], None] | None = None, tick_s: float = 5.0) -> None:
        next_tick = time.monotonic() + tick_s
        while not should_stop():
            self.poll(0.5)
            if on_tick and time.monotonic() >= next_tick:
                next_tick += tick_s
                on_tick(self)
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
                self._drain(runtime)
        for obj in ready:
            kind, runtime = waitables[obj]
            if kind == "exit" and runtime.process is not None:
                self._reap(runtime)
        self._restart_due()

    def stop(self) -> None:
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
                runtime.process = None
            runtime.conn.close()
            if runtime.state != CameraState.STOPPED:
                self._set_state(runtime, CameraState.STOPPED, "appliance stopped")
        self.pm.hook.nvr_shutdown(config=self.config)

    # -- workers -------------------------------------------------------------------------

    def _spawn(self, runtime: CameraRuntime) -> None:
        receive, send = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=worker_main, name=f"camera-{runtime.camera.id}",
            args=(self.config, runtime.camera.id, send, self.log_level), daemon=False)
        process.start()
        send.close()  # the worker holds the only sending end: its exit closes the pipe
        runtime.process, runtime.conn, runtime.restart_at = process, receive, None
        log.info("%s: worker started (pid %d)", runtime.camera.id, process.pid)

    def _reap(self, runtime: CameraRuntime) -> None:
        self._drain(runtime)
        process = runtime.process
        process.join()
        runtime.process = None
        runtime.conn.close()
        code = process.exitcode
        camera_id = runtime.camera.id
        # The dead worker's .part file is repaired and indexed before anything else runs.
        reconcile(self.config, self.catalog, repair=True, writers_active=False,
                  camera=camera_id)
        if code == EXIT_FATAL:
            self._set_state(runtime, CameraState.DISABLED, "fatal error in the worker")
            self._alert(Alert("recording_fatal_error", "critical",
                              f"camera {camera_id}: worker failed fatally; camera disabled",
                              camera_id))
            return
        delay = RESTART_DELAYS_S[min(runtime.restarts, len(RESTART_DELAYS_S) - 1)]
        runtime.restarts += 1
        runtime.restart_at = time.monotonic() + delay
        log.error("%s: worker exited with code %s; restarting in %.0f s", camera_id, code, delay)
        self._set_state(runtime, CameraState.RESTARTING, f"worker exited with code {code}")

    def _restart_due(self) -> None:
        now = time.monotonic()
        for runtime in self.cameras.values():
            if runtime.process is None and runtime.restart_at is not None \
                    and now >= runtime.restart_at:
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

    def _handle(self, runtime: CameraRuntime, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "segment":
            self._segment_closed(runtime, SegmentRecord.from_dict(message["record"]))
        elif kind == "state":
            self._set_state(runtime, CameraState(message["state"]), message.get("reason", ""))
        elif kind == "alert":
            self._alert(Alert(message["code"], message["level"], message["message"],
                              runtime.camera.id))
        elif kind == "stats":
            runtime.counters = message["counters"]

    def _segment_closed(self, runtime: CameraRuntime, record: SegmentRecord) -> None:
        try:
            segment_id = self.catalog.add_segment(record)
        except Exception as exc:
            # The file is safe on disk; start-up recovery indexes it if we never manage to.
            log.error("catalog write failed for %s: %s", record.path, exc)
            return
        record = SegmentRecord.from_dict({**record.to_dict(), "id": segment_id})
        runtime.segments += 1
        runtime.recorded_ms += record.duration_ms
        runtime.bytes += record.bytes
        runtime.last_segment = record
        runtime.restarts = 0
        self.pm.hook.nvr_segment_closed(segment=record, config=self.config)

    def _set_state(self, runtime: CameraRuntime, state: CameraState, reason: str) -> None:
        if runtime.state == state and runtime.reason == reason:
            return
        runtime.state, runtime.reason = state, reason
        log.info("%s: %s%s", runtime.camera.id, state, f" ({reason})" if reason else "")
        self.pm.hook.nvr_camera_state(camera_id=runtime.camera.id, state=str(state),
                                      reason=reason, config=self.config)

    def _alert(self, alert: Alert) -> None:
        log_fn = log.critical if alert.level == "critical" else log.warning
        log_fn("alert %s: %s", alert.code, alert.message)
        self.pm.hook.nvr_alert(alert=alert, config=self.config)
