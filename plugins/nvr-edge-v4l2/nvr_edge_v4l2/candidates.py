"""From a present capture node to a camera candidate: one stream per mode, the main one
proposed (H.264 when offered, else the largest MJPEG)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from nvr_edge import CameraCandidate, CandidateStream
from nvr_edge_v4l2.probe import Mode
from nvr_edge_v4l2.watcher import Present

CODECS = {"H264": "h264", "HEVC": "h265", "MJPG": "mjpeg", "JPEG": "mjpeg", "YUYV": "yuyv",
          "UYVY": "uyvy", "NV12": "nv12", "YU12": "yuv420p", "RGB3": "rgb24"}
ENCODER_NOTE = ("needs an encoder to be recorded (the hardware-encoder plugins, issue 13): "
                "the camera offers no H.264")
NOT_RECORDABLE = "recording V4L2 sources is not supported yet: listed for discovery only"


def codec(fourcc: str) -> str:
    return CODECS.get(fourcc, fourcc.lower())


def _area(mode: Mode) -> tuple[int, float]:
    return mode.width * mode.height, mode.fps or 0.0


def proposed_main(modes: tuple[Mode, ...]) -> Mode | None:
    """H.264 at its largest size and rate; else the largest MJPEG; else the largest mode."""
    for wanted in ("h264", "mjpeg"):
        offered = [m for m in modes if codec(m.fourcc) == wanted]
        if offered:
            return max(offered, key=_area)
    return max(modes, key=_area, default=None)


def stream_url(present: Present, mode: Mode) -> str:
    """Where and how the mode is read: the by-id link (stable across plugs) when udev made
    one, the mode in the query. No "//": a local path has no host for credentials to go
    with (`nvr-edge discover --user` adds them to URLs that have one)."""
    query = {"fourcc": mode.fourcc, "width": mode.width, "height": mode.height}
    if mode.fps is not None:
        query["fps"] = f"{mode.fps:g}"
    return f"v4l2:{present.node.link}?{urlencode(query)}"


def candidate(present: Present) -> CameraCandidate:
    node = present.node
    base = CameraCandidate(id=f"v4l2:{node.stable_id}", kind="v4l2", address=node.link,
                           name=node.name, manufacturer=node.vendor, model=node.model)
    report = present.report
    if report is None:
        return replace(base, problem=present.problem)
    main = proposed_main(report.modes)
    streams = tuple(
        CandidateStream(name=_name(mode), role="main" if mode == main else "",
                        codec=codec(mode.fourcc), width=mode.width, height=mode.height,
                        fps=mode.fps, url=stream_url(present, mode))
        for mode in sorted(report.modes, key=lambda m: m != main))  # main first
    problems = [NOT_RECORDABLE]
    if main is not None and codec(main.fourcc) != "h264":
        problems.insert(0, ENCODER_NOTE)
    if report.problem:  # a cap reached: the first modes only
        problems.insert(0, report.problem)
    return replace(base, name=node.name or report.capability.card, streams=streams,
                   problem="; ".join(problems))


def _name(mode: Mode) -> str:
    rate = f"@{mode.fps:g}" if mode.fps is not None else ""
    return f"{codec(mode.fourcc)} {mode.width}x{mode.height}{rate}"
