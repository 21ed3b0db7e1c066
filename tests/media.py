"""Checking recorded files with the ffprobe/ffmpeg CLIs (an independent reader)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


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
