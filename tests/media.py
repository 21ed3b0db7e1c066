"""Checking recorded files with the ffprobe/ffmpeg CLIs (an independent reader)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av

from nvr_edge.live.wire import LivePacket


def fragmented_mp4(path: Path, seconds: int) -> bytes:
    """A real fMP4 like the recorder writes (H.264, ~1 s fragments), its bytes."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30",
                    "-t", str(seconds), "-c:v", "libx264", "-g", "30", "-movflags",
                    "empty_moov+default_base_moof", "-frag_duration", "1000000", str(path)],
                   check=True)
    return path.read_bytes()


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


def audio_at(path: Path | str, rate: int = 8000) -> tuple[float, list[float]]:
    """The file's first audio track decoded to mono float samples at `rate`, each frame
    placed at its own pts (a gap is zeros, as a player would play it): (the first
    sample's time in seconds, the samples)."""
    samples: list[float] = []
    first: float | None = None
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(container.streams.audio[0]):
            at = float(frame.pts * frame.time_base)
            first = at if first is None else first
            index = round((at - first) * rate)
            samples.extend([0.0] * (index - len(samples)))
            del samples[index:]
            for out in resampler.resample(frame):
                samples.extend(memoryview(bytes(out.planes[0])).cast("f")[:out.samples])
    return first or 0.0, samples


def where_in(source: list[float], window: list[float], near: int, span: int) -> int:
    """The index in `source` within `near` ± `span` where `window` matches best (the peak
    of their cross-correlation, every other sample: enough for noise)."""
    def score(at: int) -> float:
        return sum(window[n] * source[at + n] for n in range(0, len(window), 2))

    candidates = range(max(0, near - span), min(len(source) - len(window), near + span) + 1)
    return max(candidates, key=score)
