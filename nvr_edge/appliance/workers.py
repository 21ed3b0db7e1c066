"""The camera workers as the main process sees them: one runtime record per camera, and
starting a worker process with its pipe and live socket."""

from __future__ import annotations

import enum
import logging
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import Any

from nvr_edge.appliance.health import ProcessSampler, RestartGuard
from nvr_edge.camera.worker import worker_main
from nvr_edge.config import CameraConfig, Config
from nvr_edge.live.hub import LIVE, MAIN
from nvr_edge.live.ladder import RUNG_NAMES
from nvr_edge.models import CameraState, LiveMode, SegmentRecord

log = logging.getLogger(__name__)
CPU_ALERT_EVERY_S = 600.0


@dataclass
class IngestMeter:
    """Frames and kilobits per second from a worker's per-session counters (they restart
    from zero with each RTSP session)."""

    last: tuple[float, int, int] | None = None  # (monotonic s, frames, bytes)
    fps: float = 0.0
    kbps: float = 0.0

    def update(self, now: float, frames: int, size: int) -> None:
        if self.last is not None:
            then, frames0, size0 = self.last
            if frames < frames0 or size < size0:  # a new session
                frames0 = size0 = 0
            if now > then:
                self.fps = (frames - frames0) / (now - then)
                self.kbps = (size - size0) * 8 / 1000 / (now - then)
        self.last = (now, frames, size)

    def reset(self) -> None:
        self.last, self.fps, self.kbps = None, 0.0, 0.0


class AfterExit(enum.StrEnum):
    """What the supervisor does when a worker it stopped has exited."""

    RESTART = "restart"  # an operator's or a config change's: at once, not counted
    DISABLE = "disable"  # recording turned off in the config
    REMOVE = "remove"    # the camera left the config


@dataclass
class CameraRuntime:
    """What the supervisor knows of one camera."""

    camera: CameraConfig
    guard: RestartGuard
    process: Any = None
    conn: Any = None
    sampler: ProcessSampler | None = None
    state: str = CameraState.STARTING
    reason: str = "the worker process is starting"
    restart_at: float | None = None
    previous_writer: bool = False  # a worker we did not start held the camera at spawn
    restart_reason: str | None = None  # set when the supervisor itself stopped the worker
    restarts: int = 0
    online_since: float | None = None
    closed_at: list[float] = field(default_factory=list)
    cpu_alerted_at: float = -CPU_ALERT_EVERY_S
    segments: int = 0
    recorded_ms: int = 0
    bytes: int = 0
    last_segment: SegmentRecord | None = None
    counters: dict[str, int] = field(default_factory=dict)
    transcoding: dict[str, Any] | None = None  # from the worker's last stats
    rungs: dict[str, Any] | None = None  # its transcoded live rungs, from the same
    ingest: IngestMeter = field(default_factory=IngestMeter)
    open_ms: int = 0  # of the segment being written, from the worker's last stats
    created: float = field(default_factory=time.monotonic)
    # What to do when the worker exits because the supervisor stopped it (None: a health
    # restart, delayed and counted by the storm guard).
    after_exit: AfterExit | None = None
    space_paused: bool = False  # stopped: the cache refused its next segment
    space_pauses: int = 0

    def continuity(self) -> float:
        """Recorded seconds over wall seconds since the camera was configured."""
        wall_ms = (time.monotonic() - self.created) * 1000
        return min(1.0, (self.recorded_ms + self.open_ms) / wall_ms) if wall_ms > 0 else 0.0


def start_worker(ctx: BaseContext, config: Config, runtime: CameraRuntime,
                 log_level: int) -> dict[str, socket.socket]:
    """Start `runtime`'s worker process; returns the main process's ends of its live
    sockets by hub stream: "live" (none: live view off), for a camera with a sub
    stream "main" (its main stream, forwarded only while watched), and each transcoded
    rung ("360p" ...: encoded only while watched)."""
    receive, send = ctx.Pipe(duplex=False)
    pairs: dict[str, tuple[socket.socket, socket.socket]] = {}
    if runtime.camera.live != LiveMode.OFF:
        pairs[LIVE] = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if runtime.camera.sub is not None:
            pairs[MAIN] = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for rung in RUNG_NAMES:
            pairs[rung] = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    worker_ends = {stream: pair[1] for stream, pair in pairs.items()}
    process = ctx.Process(  # type: ignore[attr-defined]
        target=worker_main, name=f"camera-{runtime.camera.id}",
        args=(config, runtime.camera.id, send, log_level, worker_ends.get(LIVE),
              worker_ends.get(MAIN), {r: worker_ends[r] for r in RUNG_NAMES if r in worker_ends}),
        daemon=False)
    process.start()
    send.close()  # the worker holds the only sending end: its exit closes the pipe
    for end in worker_ends.values():
        end.close()
    runtime.process, runtime.conn, runtime.restart_at = process, receive, None
    runtime.sampler = ProcessSampler(process.pid)
    runtime.restart_reason, runtime.online_since = None, None
    runtime.after_exit, runtime.space_paused = None, False
    log.info("%s: worker started (pid %d)", runtime.camera.id, process.pid)
    return {stream: pair[0] for stream, pair in pairs.items()}
