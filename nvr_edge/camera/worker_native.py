"""A camera worker's sessions through the compiled packet path (`recording.engine =
"native"`, docs/ARCHITECTURE.md "The native engine").

The reader thread (camera/ingest_native.py) records; the worker's main thread, here, only
supervises: stop, stall (from the arrival times the engine keeps), the live relay (packets
cross into Python only while watched), stats, and closed segments handed on to the
supervisor from this thread (the pipe is not shared between threads).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import signal
import time
from fractions import Fraction
from typing import Any

from nvr_edge.camera.audio import MP4_AUDIO
from nvr_edge.camera.ingest_native import (
    LivePacketView,
    NativeOpened,
    NativeReader,
    feed_monitor,
    load_engine,
    stream_info_native,
)
from nvr_edge.camera.recorder_native import NativeRecorder
from nvr_edge.camera.session_end import SessionEnd, SessionState
from nvr_edge.camera.stall import StallMonitor
from nvr_edge.camera.timestamps import JUMP_TOLERANCE_S, MAX_NUDGE_S
from nvr_edge.camera.transcoding import needs_transcode
from nvr_edge.models import CameraState, SegmentRecord

log = logging.getLogger(__name__)

# How long a stopping session waits for its reader to close the open segment (the engine's
# read returns within FFmpeg's ~0.1 s interrupt check; the close fsyncs).
JOIN_S = 10.0
# The main thread looks at a session this often while nobody watches (stall gaps are
# counted from the engine's arrival times, so the look may be late without blurring them),
# and this often while it feeds the live relay.
IDLE_S = 1.0
LIVE_S = 0.1


class NativeSessions:
    """The worker's RTSP sessions, recorded by the engine into `factory`'s segments."""

    def __init__(self, worker: Any, factory: Any) -> None:
        self.worker, self.factory = worker, factory
        self.unsupported = False  # the last session's camera needs PyAV
        # Readable when a signal came (signal_wakeup): ends a wait at once
        self.wakeup: int | None = None

    def record(self) -> SessionEnd:
        """CameraWorker.record_session through the compiled path: the reader thread
        records, this one supervises (stop, stall, live relay, stats) and hands closed
        segments on."""
        rec = self.worker.config.recording
        timeout_s = rec.stall.timeout_ms / 1000
        closed: queue.SimpleQueue[SegmentRecord] = queue.SimpleQueue()
        reader = NativeReader(self.worker.camera.main, rec.connect_timeout_s,
                              timeout_s * (rec.stall.max_drops + 2), True,
                              lambda opened: self.new_recorder(opened, closed.put))
        reader.start()
        session = SessionState()
        tapped = False
        try:
            while True:
                self.wait(tapped, watch_live=session.monitor is not None)
                if self.worker.stop.is_set():
                    break
                self.hand_on(closed)
                recorder = reader.recorder
                if recorder is not None and session.monitor is None:
                    session.recorder = recorder
                    session.monitor = StallMonitor(rec.stall, time.monotonic())
                    if self.worker.live_main is not None and reader.opened is not None:
                        self.worker.live_main.stream_info(stream_info_native(reader.opened, "main"))
                if not reader.is_alive():
                    assert reader.ended is not None
                    session.ended(reader.ended)
                    return session.end()
                if recorder is None:
                    continue
                if self.stalled(session, reader):
                    return session.end()
                if recorder.current is not None:
                    self.worker.channel.set_state(CameraState.ONLINE)
                tapped = self.feed_live(reader)
                self.worker.maybe_send_stats(recorder)
            session.reason = "stopped"
            return session.end()
        finally:
            reader.abandon()
            reader.join(JOIN_S)  # it closes the open segment
            self.hand_on(closed)
            self.unsupported = reader.unsupported
            if session.recorder is not None:
                self.worker.bytes_per_s = session.recorder.bytes_per_s
                self.worker.send_stats(session.recorder)
            if reader.error is not None:
                raise reader.error

    def new_recorder(self, opened: NativeOpened, on_closed: Any) -> NativeRecorder | None:
        """The session's recorder, on the reader thread; None: PyAV must record this camera
        (a codec the engine only copies: MJPEG and audio that needs transcoding)."""
        video, audio = opened.video, opened.audio
        audio_name = audio["codec"] if audio else None
        transcodes = audio_name is not None and audio_name not in MP4_AUDIO \
            and self.worker.config.recording.unsupported_audio == "transcode"
        if needs_transcode(video["codec"]) or transcodes:
            log.info("%s: %s%s is recorded through PyAV, not the native engine",
                     self.worker.camera.id, video["codec"],
                     f" + {audio_name}" if audio_name else "")
            return None
        engine, module = opened.engine, load_engine()
        mode = module.AUDIO_NONE if audio is None else \
            module.AUDIO_COPY if audio_name in MP4_AUDIO else module.AUDIO_DROP
        if mode == module.AUDIO_DROP:
            log.warning("%s: audio %s cannot go into MP4 and unsupported_audio = \"drop\": "
                        "recording video only", self.worker.camera.id, audio_name)
        rec = self.worker.config.recording
        engine.configure(mode, rec.fragment_ms / 1000, rec.stall.timeout_ms / 1000,
                         MAX_NUDGE_S, JUMP_TOLERANCE_S,
                         self.worker.live_main is not None and self.worker.live_main.always)
        log.info("%s: connected: %s %dx%d%s (native engine)", self.worker.camera.id, video["codec"],
                 video["width"], video["height"], f" + {audio_name}" if audio_name else "")
        return NativeRecorder(
            camera=self.worker.camera.id, device=self.worker.config.device_id, factory=self.factory,
            engine=engine, video=video, audio_track=mode == module.AUDIO_COPY,
            on_closed=on_closed, target_s=self.worker.config.storage.segment_seconds,
            first_target_s=self.worker.first_target(), bytes_per_s=self.worker.bytes_per_s,
            not_before_ms=self.worker.last_end_ms)

    def hand_on(self, closed: queue.SimpleQueue[SegmentRecord]) -> None:
        while not closed.empty():
            self.worker.segment_closed(closed.get())

    def stalled(self, session: SessionState, reader: NativeReader) -> bool:
        """The stall monitor fed from the engine's arrival times (late packets and the
        first on time after them, in order); True: the session is over."""
        monitor = session.monitor
        assert monitor is not None
        if feed_monitor(monitor, *reader.engine.take_arrivals()):
            session.reason = f"the stream keeps stalling ({monitor.drops} late packets)"
            return True
        now = time.monotonic()
        if monitor.on_silence(now):
            session.silent_for(now - monitor.last_packet)
            return True
        return False

    def wait(self, tapped: bool, watch_live: bool) -> None:
        """Between two looks at a session: LIVE_S while the live relay is fed, else
        up to IDLE_S, cut short by a signal (SIGTERM) or a message from the live
        hub (a first viewer starts at once)."""
        if tapped or self.wakeup is None:
            self.worker.stop.wait(LIVE_S)
            return
        live = self.worker.live_main
        fds = [self.wakeup]
        if watch_live and live is not None and not live.closed:
            fds.append(live.sock.fileno())
        select.select(fds, [], [], IDLE_S)
        with contextlib.suppress(BlockingIOError):
            os.read(self.wakeup, 512)

    def feed_live(self, reader: NativeReader) -> bool:
        """Packets for the live relay cross into Python only while someone wants them;
        True while they do."""
        live = self.worker.live_main
        if live is None or reader.opened is None:
            return False
        live.poll_control()
        tap = live.tap
        tapped = live.viewed or (tap is not None and tap.wanted)
        reader.engine.set_tap(tapped)
        items = reader.engine.take_live()
        if items:
            opened = reader.opened
            video_tb = Fraction(*opened.video["time_base"])
            audio_tb = Fraction(*opened.audio["time_base"]) if opened.audio else video_tb
            for item in items:
                live.packet(item[0], LivePacketView(item, audio_tb if item[0] else video_tb))
        return tapped


def signal_wakeup() -> int:
    """A pipe's read end that a signal makes readable (a wait in select ends at SIGTERM as
    a wait on the stop event does)."""
    read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    return read
