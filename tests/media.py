"""Checking recorded files with the ffprobe/ffmpeg CLIs (an independent reader)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av

from nvr_edge.live.wire import LivePacket


def probe(path: Path | str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_format",
                          "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def video_packets(info: dict) -> int:
    return sum(int(s["nb_read_packets"]) for s in info["streams"] if s["codec_type"] == "video")


def codecs(info: dict) -> dict[str, str]:
    return {s["codec_type"]: s["codec_name"] for s in info["streams"]}


def decode_errors(path: Path | str) -> str:
    """What ffmpeg complains about while decoding every frame ('' for a clean file)."""
    run = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True)
    return run.stderr if run.returncode == 0 else f"exit {run.returncode}: {run.stderr}"


def decoded_frames(info, packets: list[LivePacket]) -> int:
    """How many video frames `packets` decode to (with the stream's extradata)."""
    codec = av.CodecContext.create(info.video_codec, "r")
    if info.video_extradata:
        codec.extradata = info.video_extradata
    frames = 0
    for p in packets:
        if not p.audio:
            frames += len(codec.decode(av.Packet(p.data)))
    return frames
