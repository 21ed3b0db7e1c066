"""Where a snapshot's picture comes from: the live relay (a camera's picture now; the feed
starts on demand like any viewer's and stops after it, so no second camera session), the
newest closed segment (the last picture recorded, for a camera that is not sending), or a
stream URL opened once (a stream tested before it is added)."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av

from nvr_edge.api import LiveRelay
from nvr_edge.catalog.base import Catalog, SegmentQuery
from nvr_edge.config_secrets import mask_url
from nvr_edge.encode.still import NoPicture, Still, first_picture
from nvr_edge.models import SegmentStatus, iso_utc
from nvr_edge.v4l2_source import is_v4l2_url, parse_v4l2_url

RECENT_MS = 24 * 3600 * 1000  # how far back the last recorded picture is looked for


@dataclass(frozen=True)
class Snapshot:
    still: Still
    codec: str
    source: str  # "live", "recording" or "stream"
    at_ms: int   # when the picture was taken (UTC epoch ms)


def from_live(relay: LiveRelay, camera: str, wait_s: float, max_width: int) -> Snapshot | None:
    """The camera's next keyframe from the relay, decoded; None when none comes in `wait_s`
    (the camera is not sending, or its live feed is off)."""
    wake = threading.Event()
    viewer = relay.subscribe(camera, wake.set)
    deadline = time.monotonic() + wait_s
    try:
        first = _first_video(viewer, wake, deadline)
        if first is None or viewer.info is None:
            return None
        at_ms = int(time.time() * 1000)
        info = viewer.info
        rest = _video(viewer, wake, deadline)
        still = first_picture(info.video_codec, info.video_extradata,
                              itertools.chain([first], rest), max_width)
        return Snapshot(still, info.video_codec, "live", at_ms)
    except NoPicture:
        return None
    finally:
        relay.unsubscribe(viewer)


def _first_video(viewer: Any, wake: threading.Event, deadline: float) -> bytes | None:
    # the hub hands a new viewer nothing before a keyframe: the first video packet is one
    return next(_video(viewer, wake, deadline), None)


def _video(viewer: Any, wake: threading.Event, deadline: float) -> Iterator[bytes]:
    while time.monotonic() < deadline and not viewer.closed:
        batch = viewer.take()
        if not batch:
            wake.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            wake.clear()
            continue
        for packet in batch:
            if not packet.audio:
                yield packet.data


def from_recording(catalog: Catalog, camera: str, max_width: int) -> Snapshot | None:
    """The last keyframe of the camera's newest closed segment of the last day."""
    now = int(time.time() * 1000)
    segments = catalog.segments(SegmentQuery(camera=camera, since_ms=now - RECENT_MS,
                                             status=SegmentStatus.OK))
    for segment in sorted(segments, key=lambda s: s.start_ms, reverse=True)[:3]:
        try:
            with av.open(segment.path) as container:
                shot = _last_gop_picture(container, max_width)
        except (OSError, av.FFmpegError, NoPicture):
            continue  # moved or deleted meanwhile: the one before will do
        if shot is not None:
            still, offset_s = shot
            return Snapshot(still, segment.video_codec, "recording",
                            segment.start_ms + int(offset_s * 1000))
    return None


def _last_gop_picture(container: Any, max_width: int) -> tuple[Still, float] | None:
    """The picture of the file's last keyframe and its offset (s) from the file's start."""
    video = container.streams.video[0]
    gop: list[bytes] = []
    key_pts = first_pts = None
    for packet in container.demux(video):
        if packet.pts is None or not packet.size:
            continue
        first_pts = packet.pts if first_pts is None else first_pts
        if packet.is_keyframe:
            gop, key_pts = [], packet.pts
        if key_pts is not None and len(gop) < 8:  # the keyframe's picture needs no more
            gop.append(bytes(packet))
    if key_pts is None or first_pts is None:
        return None
    context = video.codec_context
    still = first_picture(context.name, context.extradata, gop, max_width)
    return still, float((key_pts - first_pts) * video.time_base)


def from_url(url: str, timeout_s: float, max_width: int) -> tuple[Snapshot, dict[str, Any]]:
    """The stream's first picture and what it carries ({codec, width, height, fps, audio});
    ValueError naming the problem (the URL shown with its password masked)."""
    if is_v4l2_url(url):
        source = parse_v4l2_url(url)
        target, fmt, options = source.device, "v4l2", source.pyav_options()
    else:
        target, fmt = url, None
        options = {"rtsp_transport": "tcp", "timeout": str(round(timeout_s * 1e6))}
    try:
        container = av.open(target, format=fmt, options=options, timeout=(timeout_s, timeout_s))
    except av.FFmpegError as exc:
        raise ValueError(f"{mask_url(url)}: {exc.strerror or exc}") from None
    with container:
        video = next(iter(container.streams.video), None)
        if video is None:
            raise ValueError(f"{mask_url(url)}: the stream has no video track")
        context = video.codec_context
        deadline = time.monotonic() + timeout_s
        packets = _keyframe_on(container, video, deadline)
        try:
            still = first_picture(context.name, context.extradata, packets, max_width)
        except NoPicture as exc:
            raise ValueError(f"{mask_url(url)}: {exc}") from None
        rate = video.average_rate or video.guessed_rate
        audio = next(iter(container.streams.audio), None)
        facts = {"codec": context.name, "width": still.width, "height": still.height,
                 "fps": round(float(rate), 2) if rate else None,
                 "audio": audio.codec_context.name if audio is not None else None}
        return Snapshot(still, context.name, "stream", int(time.time() * 1000)), facts


def _keyframe_on(container: Any, video: Any, deadline: float) -> Iterator[bytes]:
    started = False
    for packet in container.demux(video):
        if time.monotonic() > deadline:
            return
        if not packet.size:
            continue
        started = started or packet.is_keyframe
        if started:
            yield bytes(packet)


def describe(shot: Snapshot) -> dict[str, Any]:
    """The snapshot as a command answers it (the JPEG base64-encoded)."""
    return {"source": shot.source, "at": iso_utc(shot.at_ms), "codec": shot.codec,
            "width": shot.still.width, "height": shot.still.height,
            "jpeg": base64.b64encode(shot.still.jpeg).decode("ascii")}
