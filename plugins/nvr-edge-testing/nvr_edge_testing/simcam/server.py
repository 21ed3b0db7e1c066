#!/usr/bin/python3
"""Simulated IP cameras: an RTSP server that loops pre-encoded clips in real time.

Standalone script for the *system* interpreter (needs only the stdlib and gi with
GstRtspServer); it must not import av or other third-party packages.  Clips and
their JSON indexes come from ``nvr_edge_testing.simcam.clip.ensure_clip``.

Design:
* every mount (``/camN/main``, ``/camN/sub``) is a shared media: one pipeline,
  any number of clients, who join mid-stream like on a real camera;
* the media pipeline is ``appsrc ! rtpXpay`` per stream; nothing is encoded or parsed;
* one scheduler thread for all mounts keeps a heap of due times and pushes each
  access unit / audio frame at its real-time moment.  Timestamps are running time
  ``origin + n * frame_duration`` where ``n`` counts frames since the media started,
  so they increase continuously across clip loops; audio and video of a media
  share the same origin, so they stay in sync;
* when the last client leaves, gst-rtsp-server unprepares the shared media and its
  feeds are dropped; the next client gets a fresh media starting at the clip start;
* ``--sub-clock WxH`` makes every ``/camN/sub`` a live camera instead: each frame is
  painted with the wall-clock time (``clockface.py``) and encoded by x264 as it is
  made, for glass-to-glass latency measurements.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtspServer", "1.0")
# Run as a script: this file's folder is on sys.path, not the nvr_edge package.
from clockface import ClockPainter  # noqa: E402
from gi.repository import GLib, Gst, GstApp, GstRtspServer  # noqa: E402

NS = 1_000_000_000
#: Frames due within this window are pushed together, to save wake-ups.  The
#: timestamps stay exact; only the hand-over to GStreamer is up to 10 ms early.
PUSH_SLACK_NS = 10_000_000
#: How often a media whose pipeline is not PLAYING yet is polled.
PENDING_POLL_NS = 5_000_000


# ----------------------------------------------------------------------- clip data


@dataclass
class Track:
    """One elementary stream of a clip, held in memory and shared by all mounts."""

    caps: str
    units: list[GLib.Bytes]
    keyframes: list[bool]
    # A unit's duration is num / den seconds (exact integers: no drift over loops).
    num: int
    den: int

    def pts(self, n: int) -> int:
        """Offset of the n-th unit since the start of the stream, across loops.

        Rounded up so that the payloader's round-down conversion to the RTP clock
        rate gives exactly n * samples-per-unit ticks: no +-1 tick jitter.
        """
        return -(-n * self.num * NS // self.den)


@dataclass
class ClipData:
    video: Track
    audio: Track | None
    audio_payloader: str


def load_clip(index_path: Path) -> ClipData:
    index = json.loads(index_path.read_text())
    folder = index_path.parent
    v = index["video"]
    data = (folder / v["file"]).read_bytes()
    video = Track(
        caps="video/x-h264,stream-format=byte-stream,alignment=au",
        units=[GLib.Bytes.new(data[off:off + size]) for off, size, _key in v["frames"]],
        keyframes=[bool(key) for _off, _size, key in v["frames"]],
        num=1, den=int(v["fps"]),
    )
    a = index.get("audio")
    if not a:
        return ClipData(video, None, "")
    data = (folder / a["file"]).read_bytes()
    units = [GLib.Bytes.new(data[off:off + size]) for off, size in a["frames"]]
    rate, channels = int(a["rate"]), int(a["channels"])
    if a["codec"] == "aac":
        caps = (f"audio/mpeg,mpegversion=4,stream-format=raw,rate={rate},"
                f"channels={channels},codec_data=(buffer){a['codec_data']}")
        payloader = "rtpmp4gpay pt=97"
    else:
        caps = f"audio/x-mulaw,rate={rate},channels={channels}"
        payloader = "rtppcmupay pt=0"
    # ensure_clip cuts audio to whole frames, so every unit has the same duration.
    audio = Track(caps, units, [True] * len(units), num=int(a["frame_samples"]), den=rate)
    return ClipData(video, audio, payloader)


# ----------------------------------------------------------------------- scheduler


@dataclass(eq=False)
class Feed:
    """Pushes one track of a clip into one appsrc of one media, looping forever."""

    appsrc: GstApp.AppSrc
    track: Track
    n: int = 0  # units pushed since the media started
    origin_rt: int = 0  # pipeline running time of unit 0
    origin_abs: int = 0  # clock time of unit 0
    alive: bool = True

    def due(self) -> int:
        return self.origin_abs + self.track.pts(self.n)

    def push(self) -> None:
        track = self.track
        i = self.n % len(track.units)
        buf = Gst.Buffer.new_wrapped_bytes(track.units[i])
        buf.pts = buf.dts = self.origin_rt + track.pts(self.n)
        buf.duration = track.pts(self.n + 1) - track.pts(self.n)
        if not track.keyframes[i]:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.n += 1
        if self.appsrc.push_buffer(buf) == Gst.FlowReturn.FLUSHING:
            self.alive = False  # media is being torn down


@dataclass(eq=False)
class ClockFeed:
    """Paints the wall-clock time into raw frames at `fps` and pushes them to an encoder."""

    appsrc: GstApp.AppSrc
    painter: ClockPainter
    fps: int
    n: int = 0
    origin_rt: int = 0
    origin_abs: int = 0
    alive: bool = True

    def pts(self, n: int) -> int:
        return -(-n * NS // self.fps)

    def due(self) -> int:
        return self.origin_abs + self.pts(self.n)

    def push(self) -> None:
        # The time painted is the moment of capture: now, not the frame's due time.
        frame = self.painter.paint(time.time_ns() // 1_000_000, self.n)
        buf = Gst.Buffer.new_wrapped(frame)
        buf.pts = buf.dts = self.origin_rt + self.pts(self.n)
        buf.duration = self.pts(self.n + 1) - self.pts(self.n)
        self.n += 1
        if self.appsrc.push_buffer(buf) == Gst.FlowReturn.FLUSHING:
            self.alive = False


@dataclass(eq=False)
class MediaFeeds:
    """The feeds of one media; they start together once its pipeline is PLAYING."""

    pipeline: Gst.Element
    feeds: list[Feed | ClockFeed]
    alive: bool = True


@dataclass
class Scheduler:
    """One thread for every mount: a heap of (due clock time, feed)."""

    clock: Gst.Clock
    _heap: list[tuple[int, int, Feed | ClockFeed]] = field(default_factory=list)
    _pending: list[MediaFeeds] = field(default_factory=list)
    _seq: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _stopped: bool = False

    def add(self, media: MediaFeeds) -> None:
        with self._cond:
            self._pending.append(media)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def run(self) -> None:
        log(f"scheduler thread tid {threading.get_native_id()}")  # for per-thread CPU
        while True:
            with self._cond:
                if self._stopped:
                    return
                self._start_pending()
                now = self.clock.get_time()
                due = self._pop_due(now + PUSH_SLACK_NS)
                if not due:
                    self._cond.wait(self._sleep_seconds(now))
                    continue
            for feed in due:  # pushing happens outside the lock
                try:
                    feed.push()
                except Exception as exc:  # one broken media must not freeze every camera
                    log(f"push failed, dropping the stream: {exc!r}")
                    feed.alive = False
            with self._cond:
                for feed in due:
                    self._schedule(feed)

    def _pop_due(self, limit: int) -> list[Feed | ClockFeed]:
        due = []
        while self._heap and self._heap[0][0] <= limit:
            feed = heapq.heappop(self._heap)[2]
            if feed.alive:
                due.append(feed)
        return due

    def _schedule(self, feed: Feed | ClockFeed) -> None:
        if feed.alive:
            self._seq += 1
            heapq.heappush(self._heap, (feed.due(), self._seq, feed))

    def _sleep_seconds(self, now: int) -> float | None:
        wake: int | None = self._heap[0][0] - PUSH_SLACK_NS if self._heap else None
        if self._pending:
            wake = min(wake or now + PENDING_POLL_NS, now + PENDING_POLL_NS)
        return None if wake is None else max(0, wake - now) / NS

    def _start_pending(self) -> None:
        """Start the feeds of medias whose pipeline reached PLAYING (base time known)."""
        still = []
        for media in self._pending:
            if not media.alive:
                continue
            _ret, state, _pending = media.pipeline.get_state(0)
            if state != Gst.State.PLAYING:
                still.append(media)
                continue
            base_time = media.pipeline.get_base_time()
            # A whole millisecond of running time is a whole number of RTP ticks at
            # 90, 48 and 8 kHz, keeping the tick conversion exact (see Track.pts).
            origin_rt = -(-(self.clock.get_time() - base_time) // 1_000_000) * 1_000_000
            origin_abs = base_time + origin_rt
            for feed in media.feeds:
                feed.origin_abs, feed.origin_rt = origin_abs, origin_rt
                self._schedule(feed)
        self._pending = still


# -------------------------------------------------------------------------- server


def launch_line(clip: ClipData) -> str:
    common = "is-live=true format=time do-timestamp=false stream-type=stream max-bytes=0"
    parts = [
        f"appsrc name=vsrc {common} caps=\"{clip.video.caps}\" "
        "! rtph264pay name=pay0 pt=96 config-interval=-1",
    ]
    if clip.audio is not None:
        parts.append(f"appsrc name=asrc {common} caps=\"{clip.audio.caps}\" "
                     f"! {clip.audio_payloader} name=pay1")
    return "( " + " ".join(parts) + " )"


CLOCK_CODECS = ("h264", "hevc", "mjpeg")


@dataclass(frozen=True)
class ClockSpec:
    width: int
    height: int
    fps: int = 30
    bitrate_kbps: int = 2000
    codec: str = "h264"  # one of CLOCK_CODECS: cameras the live view cannot carry too


def clock_encoder(spec: ClockSpec) -> str:
    """Encoder and payloader for the clock's codec. zerolatency: no lookahead, no
    B-frames, no frame-threading delay, like a camera's own low-latency encoder; a 1 s
    GOP like the clips."""
    if spec.codec == "hevc":
        return (f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={spec.fps} "
                f"bitrate={spec.bitrate_kbps} ! video/x-h265,stream-format=byte-stream "
                "! rtph265pay name=pay0 pt=96 config-interval=-1")
    if spec.codec == "mjpeg":
        return "jpegenc quality=70 ! rtpjpegpay name=pay0 pt=26"
    return (f"x264enc tune=zerolatency speed-preset=ultrafast threads=1 "
            f"key-int-max={spec.fps} bitrate={spec.bitrate_kbps} "
            "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream "
            "! rtph264pay name=pay0 pt=96 config-interval=-1")


def clock_launch_line(spec: ClockSpec) -> str:
    caps = (f"video/x-raw,format=I420,width={spec.width},height={spec.height},"
            f"framerate={spec.fps}/1")
    return (f"( appsrc name=vsrc is-live=true format=time do-timestamp=false "
            f"stream-type=stream max-bytes=0 caps=\"{caps}\" ! {clock_encoder(spec)} )")


Source = ClipData | ClockSpec


def make_feeds(bin_: Gst.Bin, source: Source) -> list[Feed | ClockFeed]:
    if isinstance(source, ClockSpec):
        painter = ClockPainter(source.width, source.height)
        return [ClockFeed(bin_.get_by_name("vsrc"), painter, source.fps)]
    feeds: list[Feed | ClockFeed] = [Feed(bin_.get_by_name("vsrc"), source.video)]
    if source.audio is not None:
        feeds.append(Feed(bin_.get_by_name("asrc"), source.audio))
    return feeds


def make_factory(path: str, source: Source, scheduler: Scheduler,
                 permissions: GstRtspServer.RTSPPermissions | None,
                 ) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(clock_launch_line(source) if isinstance(source, ClockSpec)
                       else launch_line(source))
    factory.set_shared(True)  # one pipeline per mount, like a real camera
    if permissions is not None:
        factory.set_permissions(permissions)

    def on_configure(_factory: GstRtspServer.RTSPMediaFactory,
                     media: GstRtspServer.RTSPMedia) -> None:
        bin_ = media.get_element()
        media_feeds = MediaFeeds(bin_.get_parent(), make_feeds(bin_, source))
        media.connect("unprepared", lambda _m: _kill(path, media_feeds))
        scheduler.add(media_feeds)
        log(f"{path}: media started")

    factory.connect("media-configure", on_configure)
    return factory


def _kill(path: str, media: MediaFeeds) -> None:
    log(f"{path}: media stopped (no clients left)")
    media.alive = False
    for feed in media.feeds:
        feed.alive = False


def make_auth(user: str, password: str,
              ) -> tuple[GstRtspServer.RTSPAuth, GstRtspServer.RTSPPermissions]:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role(
        "user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    return auth, permissions


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    p.add_argument("--cameras", type=int, default=1)
    p.add_argument("--main", type=Path, required=True, help="JSON index of the main clip")
    p.add_argument("--sub", type=Path, help="JSON index of the sub clip (default: main)")
    p.add_argument("--sub-clock", type=_clock_spec, metavar="WxH",
                   help="sub streams are a live clock face of this size instead of a clip")
    p.add_argument("--clock-codec", choices=CLOCK_CODECS, default="h264",
                   help="what the clock face is encoded to")
    p.add_argument("--user")
    p.add_argument("--password", default=os.environ.get("NVR_SIMCAM_PASSWORD"),
                   help="default: $NVR_SIMCAM_PASSWORD (argv is visible to every local user)")
    p.add_argument("--ready-fd", type=int, help="write 'READY <port>' to this fd too")
    args = p.parse_args(argv)
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")
    return args


def _clock_spec(text: str) -> ClockSpec:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
        ClockPainter(width, height)  # refuses sizes it cannot paint
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: want WIDTHxHEIGHT ({exc})") from None
    return ClockSpec(width, height)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    Gst.init(None)
    main_clip = load_clip(args.main)
    clock = args.sub_clock and dataclasses.replace(args.sub_clock, codec=args.clock_codec)
    sub_source: Source = clock or (load_clip(args.sub) if args.sub else main_clip)
    scheduler = Scheduler(Gst.SystemClock.obtain())

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    permissions = None
    if args.user is not None:
        auth, permissions = make_auth(args.user, args.password)
        server.set_auth(auth)
    mounts = server.get_mount_points()
    for cam in range(1, args.cameras + 1):
        for name, source in (("main", main_clip), ("sub", sub_source)):
            path = f"/cam{cam}/{name}"
            mounts.add_factory(path, make_factory(path, source, scheduler, permissions))

    if server.attach(None) == 0:
        log(f"cannot listen on {args.host}:{args.port}")
        return 2
    thread = threading.Thread(target=scheduler.run, name="simcam-scheduler", daemon=True)
    thread.start()

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, _quit, loop)
    _announce(server.get_bound_port(), args.ready_fd)
    loop.run()

    scheduler.stop()
    thread.join(timeout=2)
    log("stopped")
    # Tearing down dozens of live pipelines buys nothing at exit and can stall on a
    # stuck client socket; the kernel releases the listening socket either way.
    os._exit(0)


def _quit(loop: GLib.MainLoop) -> bool:
    loop.quit()
    return GLib.SOURCE_REMOVE


def _announce(port: int, ready_fd: int | None) -> None:
    line = f"READY {port}\n"
    sys.stdout.write(line)
    sys.stdout.flush()
    if ready_fd is not None:
        os.write(ready_fd, line.encode())
        os.close(ready_fd)
    log(f"listening on port {port}")


def log(message: str) -> None:
    # Never log URLs with credentials or the password: tests check it never leaks.
    print(f"{time.strftime('%H:%M:%S')} simcam: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
