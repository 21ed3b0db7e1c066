"""The camera worker: one process per camera, from RTSP connection to closed segments.

It owns its camera's `.part` files while it runs and talks to the supervisor only through
a one-way pipe of the messages in `camera/messages.py`.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from nvr_edge.camera.audio import AudioRoute
from nvr_edge.camera.backoff import Backoff
from nvr_edge.camera.cut_policy import stagger_s
from nvr_edge.camera.ingest import Ended, Opened, RtspReader, rtsp_endpoint
from nvr_edge.camera.ingest_native import load_engine
from nvr_edge.camera.messages import (
    AlertRaised,
    SegmentClosed,
    SpaceLow,
    StateChanged,
    Stats,
    WorkerMessage,
)
from nvr_edge.camera.reachability import tcp_reachable
from nvr_edge.camera.recorder import DEFAULT_BYTES_PER_S, SessionRecorder
from nvr_edge.camera.recorder_native import NativeFmp4Factory
from nvr_edge.camera.rtsp_probe import diagnose
from nvr_edge.camera.rungs import RungTap
from nvr_edge.camera.session_end import ReasonStreak, SessionEnd, SessionState
from nvr_edge.camera.stall import StallMonitor
from nvr_edge.camera.sub_relay import SubRelay
from nvr_edge.camera.transcoding import TranscodedVideo, needs_transcode, target_for
from nvr_edge.camera.worker_native import NativeSessions, signal_wakeup
from nvr_edge.config import CameraConfig, Config
from nvr_edge.config_store import secret_texts
from nvr_edge.encode import handover
from nvr_edge.encode.offer import EncoderError, EncodeTarget
from nvr_edge.encode.plugin import session_of
from nvr_edge.encode.session import EncoderSession
from nvr_edge.live.forwarder import LiveForwarder, stream_info_of
from nvr_edge.logs import mask_known, setup_logging
from nvr_edge.models import AlertLevel, CameraState, LiveMode, SegmentRecord, Tier
from nvr_edge.plugins import WORKER_ENTRY_POINT_GROUP, make_plugin_manager
from nvr_edge.storage.fmp4 import Fmp4WriterFactory
from nvr_edge.storage.space_policy import SpacePolicy
from nvr_edge.storage.writer_lock import WriterLock
from nvr_edge.v4l2_source import is_v4l2_url, parse_v4l2_url

log = logging.getLogger(__name__)

EXIT_FATAL = 3  # bad config / unusable plugin: restarting will not help
EXIT_NO_SPACE = 4  # the cache refused a segment: the supervisor restarts it when there is room
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
STATS_INTERVAL_S = 5.0
# The main thread takes packets in batches, this far apart: one wake-up (and GIL hand-off)
# per batch instead of one per packet. Stall gaps are measured on the reader's arrival
# stamps, so batching does not blur them.
BATCH_S = 0.1
# The most one look at the queue works through before the loop's other duties: a worker
# that cannot keep up (a transcode on a loaded box) otherwise never left it, sent no stats
# and did not see SIGTERM (killed after 15 s, its open segment repaired instead of closed).
CONSUME_MAX_S = 0.5
PROBE_TIMEOUT_S = 5.0  # the longest a failed camera's diagnosis may wait for an answer
# A camera that needs an encoder waits this long for the main process's start-up probe.
ENCODERS_WAIT_S = 30.0
STALE_S = 0.5  # a wait longer than this makes the frames queued meanwhile stale
_PR_SET_PDEATHSIG = 1


class Channel:
    """The worker's side of the pipe; a vanished supervisor means: stop."""

    def __init__(self, conn: Any, camera: str, stop: threading.Event) -> None:
        self.conn, self.camera, self.stop = conn, camera, stop
        self.state: tuple[CameraState, str] | None = None

    def send(self, message: WorkerMessage) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            self.stop.set()

    def set_state(self, state: CameraState, reason: str = "") -> None:
        if (state, reason) != self.state:
            self.state = (state, reason)
            self.send(StateChanged(self.camera, state, reason))

    def alert(self, code: str, level: AlertLevel, message: str) -> None:
        self.send(AlertRaised(self.camera, code, level, message))


class NoSpace(OSError):
    """The cache refused a new segment's space reservation (ENOSPC): an event that ends
    this worker with EXIT_NO_SPACE, not a crash for the storm guard to count."""


class SpaceCheckedFactory:
    """Before each new segment, look at the cache's free space; short of room, ask the
    supervisor for an emergency cleanup now. Recording goes on either way: a full disk is
    the cleanup's job. Only a reservation the file system refuses stops the recording."""

    def __init__(self, inner: Any, config: Config, channel: Channel) -> None:
        self.inner, self.config, self.channel = inner, config, channel

    def open(self, meta: Any, video: Any, audio: Any, expected_bytes: int) -> Any:
        space = SpacePolicy(self.config.storage).measure(Tier.CACHE)
        if space is not None and not SpacePolicy.can_take(space, expected_bytes):
            self.channel.send(SpaceLow(self.channel.camera, Tier.CACHE, space.free_bytes))
        try:
            return self.inner.open(meta, video, audio, expected_bytes)
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS:
                raise NoSpace(exc.errno, f"no room for a {expected_bytes} byte segment on "
                              f"the cache: {exc.strerror}") from exc
            raise


class CameraWorker:
    def __init__(self, config: Config, camera: CameraConfig, channel: Channel,
                 stop: threading.Event, live: LiveForwarder | None = None,
                 main_live: LiveForwarder | None = None,
                 rungs: dict[str, LiveForwarder] | None = None) -> None:
        self.config, self.camera, self.channel, self.stop = config, camera, channel, stop
        # the transcoded rungs, tapping the live view's source (whichever thread feeds it)
        self.rungs = None if live is None or not rungs else RungTap(
            camera.id, rungs, self.rung_session, stop)
        if self.rungs is not None and live is not None:
            live.tap = self.rungs
        # The main stream feeds the live view when the camera has no sub stream; beside
        # one, it has a relay of its own (`main_live`: RTSP restream), forwarded only
        # while watched.
        self.live_main = live if camera.sub is None else main_live
        self.sub_relay = None if live is None or camera.sub is None else SubRelay(
            camera.id, camera.sub, live, config.recording.connect_timeout_s, stop)
        rec = config.recording
        self.backoff = Backoff(rec.retry)
        self.host, self.port = rtsp_endpoint(camera.main)
        self.plain_rtsp = urlsplit(camera.main).scheme.lower() == "rtsp"
        # A local capture device (USB camera): "reachable" means its node exists.
        self.device = parse_v4l2_url(camera.main).device if is_v4l2_url(camera.main) \
            else None
        self.transcoded: TranscodedVideo | None = None  # this session's, if it encodes
        self.streak = ReasonStreak()
        pm = make_plugin_manager(group=WORKER_ENTRY_POINT_GROUP)
        factory = pm.hook.nvr_segment_writer_factory(camera=camera, config=config)
        self.factory = factory and SpaceCheckedFactory(factory, config, channel)
        native = self.native_factory(factory)
        self.native = None if native is None else NativeSessions(self, native)
        # Set by a link coming up (the supervisor's SIGUSR1): the backoff wait ends and the
        # camera is tried at once.
        self.wake = threading.Event()
        self.first_segment = True
        self.bytes_per_s: float = DEFAULT_BYTES_PER_S
        self.last_end_ms = 0  # of the last closed row: the next session starts no earlier
        self.last_stats = 0.0
        self.no_space: NoSpace | None = None  # why recording stopped, if for space

    def run(self) -> None:
        if self.sub_relay is not None:
            self.sub_relay.start()
        if self.rungs is not None:
            self.rungs.start()
        self._run()

    def _run(self) -> None:
        where = self.device or f"{self.host}:{self.port}"
        self.channel.set_state(CameraState.CONNECTING, f"first connection to {where}")
        reported_offline = False
        while not self.stop.is_set():
            try:
                end = self.record_session()
            except NoSpace as exc:
                self.no_space = exc
                return
            if self.stop.is_set():
                break
            if end.recorded:
                self.backoff.reset()
                self.streak.reset()
                reported_offline = False
            reachable, reason = self.why_ended(end)
            # An unplugged device is waited for, not retried: opening a missing node
            # cannot succeed, and counting those "failures" would end in a false
            # camera_connection_failed. The node's return (or the udev watcher's wake)
            # ends the wait.
            unplugged = self.device is not None and not reachable
            delay = math.inf if unplugged else self.backoff.record_failure()
            reason = self.streak.add(reason)
            log.warning("%s: %s", self.camera.id, reason)
            if not reachable:
                self.channel.set_state(CameraState.OFFLINE, reason)
                if not reported_offline:
                    reported_offline = True
                    self.alert_offline(reason)
            else:
                self.channel.set_state(CameraState.CONNECTING, reason)
            if not unplugged and self.backoff.just_gave_up:
                self.channel.alert("camera_connection_failed", AlertLevel.CRITICAL,
                                   f"camera {self.camera.id}: {self.backoff.failures} "
                                   "connection attempts failed; retrying every "
                                   f"{self.backoff.delay_s(self.backoff.failures + 1):.0f} s")
            self.wait_before_retry(delay, was_reachable=reachable)
        self.channel.set_state(CameraState.STOPPED, "the worker was asked to stop")

    def alert_offline(self, reason: str) -> None:
        if self.device is not None:
            self.channel.alert("camera_unplugged", AlertLevel.WARNING,
                               f"camera {self.camera.id}: {reason}")
            return
        self.channel.alert("camera_offline", AlertLevel.WARNING,
                           f"camera {self.camera.id} does not answer at "
                           f"{self.host}:{self.port}: {reason}")

    def reachable(self, timeout_s: float = 0.5) -> bool:
        if self.device is not None:
            return os.path.exists(self.device)
        return tcp_reachable(self.host, self.port, timeout_s=timeout_s)

    def why_ended(self, end: SessionEnd) -> tuple[bool, str]:
        """(Is the camera reachable, the reason to show.) A session that never got to the
        streams is diagnosed by asking the camera itself: FFmpeg's error says too little."""
        if self.device is not None:
            if os.path.exists(self.device):
                return True, end.reason
            return False, f"the device {self.device} is unplugged ({end.reason})"
        if end.opened:
            return tcp_reachable(self.host, self.port), end.reason
        timeout_s = min(self.config.recording.connect_timeout_s, PROBE_TIMEOUT_S)
        found = diagnose(self.host, self.port, timeout_s, rtsp=self.plain_rtsp)
        return found.reachable, found.reason or end.reason

    def wait_before_retry(self, delay_s: float, was_reachable: bool) -> None:
        """Sleep out the backoff, but come back at once when an absent camera answers again
        (a USB camera's node is back) or the supervisor wakes us (SIGUSR1: a network link
        came up, or the udev watcher saw the camera's device added)."""
        deadline = time.monotonic() + delay_s
        interval = self.config.recording.probe_interval_s
        self.wake.clear()
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.wake.wait(min(interval, left)):
                if not self.stop.is_set():
                    log.info("%s: woken (a link came up or the device was plugged in); "
                             "trying now", self.camera.id)
                return
            if not was_reachable and self.reachable():
                log.info("%s: camera answers again; reconnecting now", self.camera.id)
                return

    def native_factory(self, factory: Any) -> SpaceCheckedFactory | None:
        """The compiled path's segment factory when `recording.engine = "native"` can record
        this camera: RTSP into the default writer's files, the module built."""
        if self.config.recording.engine != "native" or self.device is not None:
            return None
        if not isinstance(factory, Fmp4WriterFactory):
            log.warning("%s: recording.engine = \"native\" writes only the default fMP4 "
                        "segments; a plugin's writer records through PyAV", self.camera.id)
            return None
        try:
            load_engine()
        except ImportError as exc:
            log.error("%s: %s; recording through PyAV", self.camera.id, exc)
            return None
        return SpaceCheckedFactory(NativeFmp4Factory(factory.root, factory.fragment_ms),
                                   self.config, self.channel)

    def record_session(self) -> SessionEnd:
        """Connect once and record until the stream ends, stalls or we are stopped."""
        if self.native is not None:
            end = self.native.record()
            if not self.native.unsupported:
                return end
            self.native = None  # this camera records through PyAV from now on
        rec = self.config.recording
        timeout_s = rec.stall.timeout_ms / 1000
        stall_total = timeout_s * (rec.stall.max_drops + 2)
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        reader = RtspReader(self.camera.main, rec.connect_timeout_s, stall_total, items)
        reader.start()
        session = SessionState()
        try:
            while not self.stop.is_set():
                try:
                    item = items.get(timeout=timeout_s)
                except queue.Empty:
                    monitor = session.monitor
                    if monitor is not None and monitor.on_silence(time.monotonic()):
                        session.silent_for(time.monotonic() - monitor.last_packet)
                        return session.end()
                    continue
                if not self.consume(session, item, items):
                    return session.end()
                if session.recorder is not None:
                    if session.recorder.current is not None:
                        self.channel.set_state(CameraState.ONLINE)
                    self.maybe_send_stats(session.recorder)
                if self.live_main is not None:
                    self.live_main.poll_control()
                if items.empty():  # (a worker behind goes on at once)
                    self.stop.wait(BATCH_S)
            session.reason = "stopped"
            return session.end()
        finally:
            try:
                self.finish_transcode(session.recorder)
                if session.recorder is not None:
                    session.recorder.close()
                    self.bytes_per_s = session.recorder.bytes_per_s
                    self.send_stats(session.recorder)
            finally:
                reader.abandon()  # only now may the reader close its container

    def consume(self, session: SessionState, item: Any, items: queue.SimpleQueue[Any]) -> bool:
        """Handle `item` and everything queued behind it; False: the session is over."""
        wall_of_monotonic = time.time() - time.monotonic()  # arrivals are monotonic times
        busy_until = time.monotonic() + CONSUME_MAX_S
        while True:
            if type(item) is tuple:
                arrival, packet = item
                recorder, monitor = session.recorder, session.monitor
                assert monitor is not None
                if monitor.on_packet(arrival):
                    session.reason = f"the stream keeps stalling ({monitor.drops} late packets)"
                    return False
                live = self.live_main
                if live is not None and live.wanted:  # before the recorder re-stamps it
                    live.packet(packet.stream is not session.source_video, packet)
                transcoded = self.transcoded
                if transcoded is not None and packet.stream is session.source_video:
                    if arrival >= session.fresh_from and not self.transcode(
                            session, transcoded, packet, arrival + wall_of_monotonic):
                        return False
                elif recorder is not None:  # (audio before the first encoded keyframe: none)
                    recorder.handle(packet, arrival + wall_of_monotonic)
            elif isinstance(item, Opened):
                session.opened = item
                session.source_video = item.video
                self.transcoded = None
                if needs_transcode(item.video.codec_context.name):
                    # the recorder comes with the first encoded keyframe (its template)
                    self.transcoded = self.open_transcoder(session, item)
                    if self.transcoded is None:
                        return False
                else:
                    session.recorder = self.new_recorder(item, item.video)
                if self.live_main is not None:
                    self.live_main.stream_info(stream_info_of(item, "main"))
                session.monitor = StallMonitor(self.config.recording.stall, time.monotonic())
            else:
                assert isinstance(item, Ended)
                session.ended(item)
                return False
            if time.monotonic() > busy_until:
                return True  # behind: let the caller report, watch the live relay, stop
            try:
                item = items.get_nowait()
            except queue.Empty:
                return True

    def open_transcoder(self, session: SessionState, opened: Opened) -> TranscodedVideo | None:
        """An encoder session over the offers the main process probed (encode/handover.py);
        None, with the session's reason set, when there is none."""
        asked = time.monotonic()
        offers = handover.wait_for_offers(self.config.storage.state_dir, ENCODERS_WAIT_S,
                                          self.stop.is_set)
        if time.monotonic() - asked > STALE_S:
            # Frames queued while waiting for the probe would be stamped with the wall
            # clock of their encoding, seconds late: record from fresh ones instead.
            session.fresh_from = time.monotonic()
        if not offers:
            session.reason = (f"the camera sends {opened.video.codec_context.name}, which "
                              "is recorded through an encoder, and no encoder passed its probe")
            return None
        target = target_for(opened.video)
        encoders = session_of(offers, self.config, target, self.encoder_alert, self.camera.id)
        log.info("%s: %s is transcoded to H.264 %dx%d@%d (encoders: %s)", self.camera.id,
                 opened.video.codec_context.name, target.width, target.height, target.fps,
                 ", ".join(o.name for o in offers))
        return TranscodedVideo(opened.video, encoders, self.camera.id)

    def rung_session(self, target: EncodeTarget) -> EncoderSession:
        """A rung's encoder session (from the rung thread) over the probed offers."""
        offers = handover.read(self.config.storage.state_dir)
        if not offers:
            raise EncoderError("no encoder passed its probe")
        return session_of(offers, self.config, target, self.encoder_alert, self.camera.id)

    def encoder_alert(self, alert: Any) -> None:
        self.channel.alert(alert.code, alert.level, alert.message)

    def transcode(self, session: SessionState, transcoded: TranscodedVideo, packet: Any,
                  arrived_s: float) -> bool:
        """The packet's picture encoded into the recording; False: no encoder is left."""
        try:
            out = transcoded.packets(packet, arrived_s)
        except EncoderError as exc:
            session.reason = f"no encoder could encode the camera's video: {exc}"
            return False
        stall = self.config.recording.stall
        refusal = transcoded.refusal(stall.timeout_ms * stall.max_drops / 1000)
        if refusal is not None:  # pictures stopped as surely as if packets had: reconnect
            session.reason = refusal
            return False
        recorder = session.recorder
        if recorder is None:
            if transcoded.template is None:
                return True
            assert session.opened is not None
            recorder = session.recorder = self.new_recorder(session.opened, transcoded.template)
        if transcoded.take_switch():
            # Another encoder, other parameter sets: a segment's init describes one
            # encoder's stream, so the next keyframe (the new encoder's first) starts one.
            recorder.close()
            recorder.shape.forget()
        for encoded, source_arrived_s in out:
            recorder.handle(encoded, source_arrived_s)
        return True

    def first_target(self) -> float | None:
        """The first segment's length: staggered across the box's cameras (cut_policy)."""
        seconds = self.config.storage.segment_seconds
        ids = [c.id for c in self.config.cameras]
        first = None
        if self.first_segment:
            first = seconds - stagger_s(ids.index(self.camera.id), len(ids), seconds)
        self.first_segment = False
        return first

    def new_recorder(self, opened: Opened, template: Any) -> SessionRecorder:
        seconds = self.config.storage.segment_seconds
        first = self.first_target()
        video = opened.video.codec_context
        log.info("%s: connected: %s %dx%d%s", self.camera.id, video.name, video.width,
                 video.height, f" + {opened.audio.codec_context.name}" if opened.audio else "")
        return SessionRecorder(
            camera=self.camera.id, device=self.config.device_id, factory=self.factory,
            on_closed=self.segment_closed, video=template,
            audio=AudioRoute(self.camera.id, opened.audio,
                             self.config.recording.unsupported_audio),
            target_s=seconds, fragment_s=self.config.recording.fragment_ms / 1000,
            first_target_s=first, bytes_per_s=self.bytes_per_s, not_before_ms=self.last_end_ms)

    def finish_transcode(self, recorder: SessionRecorder | None) -> None:
        """What the encoder still holds goes into the last segment; the encoder is closed
        (a hardware one's child process ends) even when nothing was recorded."""
        transcoded, self.transcoded = self.transcoded, None
        if transcoded is None:
            return
        try:
            for packet in transcoded.close():
                if recorder is not None:
                    recorder.handle(packet)
        except Exception as exc:  # the recording so far must still close cleanly
            log.warning("%s: the encoder's last frames are lost: %s", self.camera.id, exc)

    def segment_closed(self, record: SegmentRecord) -> None:
        log.info("%s: segment closed %s (%.1f s, %d bytes)", self.camera.id, record.path,
                 record.duration_ms / 1000, record.bytes)
        self.last_end_ms = max(self.last_end_ms, record.end_ms)
        self.channel.send(SegmentClosed(self.camera.id, record, time.monotonic()))

    def maybe_send_stats(self, recorder: SessionRecorder) -> None:
        now = time.monotonic()
        if now - self.last_stats >= STATS_INTERVAL_S:
            self.last_stats = now
            self.send_stats(recorder)

    def send_stats(self, recorder: SessionRecorder) -> None:
        transcoding = None if self.transcoded is None else self.transcoded.status()
        rungs = None if self.rungs is None else self.rungs.status()
        self.channel.send(Stats(self.camera.id, time.monotonic(), recorder.open_ms,
                                recorder.bytes_per_s, recorder.counters.as_dict(),
                                transcoding, rungs))


def _die_with_parent() -> None:
    """A worker must not outlive the appliance and record on beside a new one."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def worker_main(config: Config, camera_id: str, conn: Any, log_level: int,
                live_sock: Any = None, main_sock: Any = None,
                rung_socks: dict[str, Any] | None = None) -> None:
    """Process entry point (started by the supervisor through multiprocessing).
    `live_sock`: this camera's end of the live relay (None: no live view); `main_sock`:
    the main stream's, for a camera with a sub stream; `rung_socks`: each transcoded
    rung's, by name."""
    _die_with_parent()
    setup_logging(log_level)
    mask_known(secret_texts(config.document))
    stop = threading.Event()
    wakers = [stop]  # a stop also ends a backoff wait at once

    def request_stop(signum: int, _frame: Any) -> None:
        for event in wakers:
            event.set()

    link_wakers: list[threading.Event] = []

    def link_up(signum: int, _frame: Any) -> None:  # the supervisor saw a link come up
        for event in link_wakers:
            event.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGUSR1, link_up)
    channel = Channel(conn, camera_id, stop)
    # Held until this process ends: recovery leaves this camera's `.part` files alone.
    writer_lock = WriterLock(config.storage.state_dir, camera_id)
    try:
        if not writer_lock.acquire(stop):
            return  # stopped while a previous writer still held the camera
        camera = config.camera(camera_id)
        live = None if live_sock is None else LiveForwarder(live_sock,
                                                            always=camera.live == LiveMode.ALWAYS)
        # on demand: nobody watching the main stream costs no copy (the recording keeps
        # its session open anyway; the first viewer starts at the next keyframe)
        main_live = None if main_sock is None else LiveForwarder(main_sock, always=False)
        rungs = {name: LiveForwarder(sock, always=False)
                 for name, sock in (rung_socks or {}).items()}
        worker = CameraWorker(config, camera, channel, stop, live, main_live, rungs)
        if worker.native is not None:
            worker.native.wakeup = signal_wakeup()
        wakers.append(worker.wake)
        link_wakers.append(worker.wake)
        if worker.factory is None:
            channel.alert("no_segment_writer", AlertLevel.CRITICAL,
                          "no plugin provides a segment writer")
            os._exit(EXIT_FATAL)
        worker.run()
    except Exception:
        log.exception("%s: worker crashed", camera_id)
        raise
    finally:
        conn.close()
    if worker.no_space is not None:
        log.warning("%s: %s; recording stops until there is room", camera_id,
                    worker.no_space.strerror)
        stop.set()  # the sub stream relay too
        sys.exit(EXIT_NO_SPACE)
