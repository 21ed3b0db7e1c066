"""The FFmpeg command line a hardware encoder runs as a child process: raw frames at the
target size on stdin, an H.264 Annex B stream on stdout. Pure: tests compare it with what
each board needs (hw/README.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nvr_edge.encode.offer import EncodeTarget

FFMPEG = "ffmpeg"


@dataclass(frozen=True)
class EngineArgs:
    """What differs between engines: how the device is named, what the encoder gets."""

    codec: str
    input_pix_fmt: str                       # what we write on stdin
    device_args: Sequence[str] = ()          # before the input (e.g. -vaapi_device)
    filters: str | None = None               # e.g. format=nv12,hwupload for VAAPI
    codec_args: Sequence[str] = ()           # engine-specific encoder options


def profile_args(options: Mapping[str, str]) -> tuple[str, ...]:
    return ("-profile:v", options.get("profile", "high"), "-level", options.get("level", "4.1"))


def ffmpeg_command(engine: EngineArgs, target: EncodeTarget,
                   ffmpeg: str = FFMPEG) -> list[str]:
    gop = str(target.gop_frames)
    kbps = target.bitrate_kbps
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats",
           *engine.device_args,
           "-f", "rawvideo", "-pix_fmt", engine.input_pix_fmt,
           "-s", f"{target.width}x{target.height}", "-r", str(target.fps), "-i", "pipe:0",
           "-an"]
    if engine.filters:
        cmd += ["-vf", engine.filters]
    cmd += ["-c:v", engine.codec, "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
            "-bufsize", f"{kbps * 2}k", "-g", gop, "-bf", "0", *engine.codec_args,
            # parameter sets before every keyframe: any keyframe starts a stream
            "-bsf:v", "dump_extra=freq=keyframe",
            "-flush_packets", "1", "-f", "h264", "pipe:1"]
    return cmd
