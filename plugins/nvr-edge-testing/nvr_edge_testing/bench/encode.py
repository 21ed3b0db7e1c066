"""`nvr-edge bench encode`: CPU seconds per second of video and time to the first encoded
packet of the software encoder (libx264 through PyAV, as an EncoderSession would run it),
against the ffmpeg CLI doing the same transcode in the same run. JSON on stdout."""

from __future__ import annotations

import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import av

from nvr_edge.encode.offer import EncodeTarget
from nvr_edge.encode.software import PyAvEncoder, x264_options

# (name, source codec, source size, target size, target kbit/s)
CASES = (
    ("h264_1080p_to_720p", "libx264", (1920, 1080), (1280, 720), 2000),
    ("h264_720p_to_360p", "libx264", (1280, 720), (640, 360), 500),
    ("mjpeg_720p_to_h264_720p", "mjpeg", (1280, 720), (1280, 720), 2000),
)
FPS = 25


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def make_source(folder: Path, codec: str, size: tuple[int, int], seconds: float) -> Path:
    path = folder / f"{codec}-{size[0]}x{size[1]}.mkv"
    quality = ["-q:v", "5", "-pix_fmt", "yuvj420p"] if codec == "mjpeg" else \
        ["-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size[0]}x{size[1]}:rate={FPS}", "-t", str(seconds),
                    "-c:v", codec, *quality, str(path)], check=True)
    return path


def nvr_edge_transcode(source: Path, target: EncodeTarget) -> dict[str, Any]:
    started, cpu0 = time.monotonic(), _cpu(resource.RUSAGE_SELF)
    first: float | None = None
    frames = 0
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        encoder = PyAvEncoder(target)
        for frame in container.decode(stream):
            frames += 1
            if encoder.encode(frame) and first is None:
                first = time.monotonic() - started
        encoder.flush()
        encoder.close()
    return {"cpu_s": _cpu(resource.RUSAGE_SELF) - cpu0, "frames": frames,
            "first_packet_s": first, "wall_s": time.monotonic() - started}


def ffmpeg_transcode(source: Path, target: EncodeTarget) -> dict[str, Any]:
    options = x264_options(target)
    argv = ["ffmpeg", "-v", "error", "-i", str(source), "-vf",
            f"scale={target.width}:{target.height}", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-b:v", f"{target.bitrate_kbps}k",
            *[arg for key, value in options.items() for arg in (f"-{key}", value)],
            "-f", "h264", "pipe:1"]
    started, cpu0 = time.monotonic(), _cpu(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert process.stdout
    first_chunk = process.stdout.read1(1)  # type: ignore[attr-defined]
    first = time.monotonic() - started if first_chunk else None
    while process.stdout.read1(1 << 16):  # type: ignore[attr-defined]
        pass
    process.wait()
    return {"cpu_s": _cpu(resource.RUSAGE_CHILDREN) - cpu0, "first_packet_s": first,
            "wall_s": time.monotonic() - started}


def run_bench(seconds: float) -> int:
    results = []
    with tempfile.TemporaryDirectory(prefix="nvr-bench-encode-") as tmp:
        for name, codec, size, (width, height), kbps in CASES:
            source = make_source(Path(tmp), codec, size, seconds)
            target = EncodeTarget(width, height, FPS, kbps)
            ours, theirs = nvr_edge_transcode(source, target), ffmpeg_transcode(source, target)
            video_s = ours["frames"] / FPS
            results.append({
                "case": name, "video_s": video_s,
                "nvr_edge_cpu_s_per_video_s": round(ours["cpu_s"] / video_s, 3),
                "ffmpeg_cli_cpu_s_per_video_s": round(theirs["cpu_s"] / video_s, 3),
                "nvr_edge_first_packet_s": round(ours["first_packet_s"] or -1, 3),
                "ffmpeg_cli_first_packet_s": round(theirs["first_packet_s"] or -1, 3),
            })
    print(json.dumps({"encoder": "libx264 superfast zerolatency", "fps": FPS,
                      "results": results}, indent=2))
    return 0
