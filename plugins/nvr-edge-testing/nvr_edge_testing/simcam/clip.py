"""Pre-encoded test clips for the simulated camera.

The simulated camera never encodes live (16 x 1080p30 x264 encodes do not fit on a
2-core box); it loops clips produced here once with the ffmpeg CLI and cached by a
hash of their parameters.  Each clip is an Annex-B H.264 elementary stream (AUD NAL
units on, SPS/PPS before every IDR, fixed GOP, no B-frames by default) plus an
optional audio elementary stream (ADTS AAC or raw G.711 mu-law), and a JSON index
listing every access unit / audio frame so the server (a stdlib + gi script) can
push them without parsing.

Stdlib only: this module is used by the venv side and its output by /usr/bin/python3.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

AudioKind = Literal["aac", "pcmu", "none"]

#: Bump when the encoding recipe changes so stale cached clips are not reused.
RECIPE_VERSION = 1

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
AAC_RATE = 48000
AAC_FRAME_SAMPLES = 1024
PCMU_RATE = 8000
PCMU_FRAME_SAMPLES = 160  # 20 ms packets, the usual G.711 packetisation
ADTS_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
                     16000, 12000, 11025, 8000, 7350)


class ClipError(RuntimeError):
    """ffmpeg failed or produced something the index cannot describe."""


@dataclass(frozen=True)
class Clip:
    """A cached, loopable clip and the parameters it was encoded with."""

    video_path: Path
    audio_path: Path | None
    index_path: Path
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    gop_frames: int
    seconds: float  # exact loop length of the video: frames / fps
    frames: int
    audio: AudioKind
    bframes: int


def ensure_clip(
    cache_dir: Path,
    *,
    width: int = 1920,
    height: int = 1080,
    fps: int = 30,
    bitrate_kbps: int = 4000,
    gop_frames: int = 30,
    seconds: float = 10,
    audio: AudioKind = "aac",
    bframes: int = 0,
) -> Clip:
    """Return the clip for these parameters, encoding it first if it is not cached.

    The frame count is rounded up to a whole number of GOPs so the loop seam falls on
    an IDR frame and the loop is seamless.  Safe for concurrent callers: every file is
    written under a temporary name and renamed into place, the index last, under
    an exclusive lock file so each clip is encoded once.
    """
    if audio not in ("aac", "pcmu", "none"):
        raise ValueError(f"audio must be aac, pcmu or none, not {audio!r}")
    if min(width, height, fps, bitrate_kbps, gop_frames) <= 0 or seconds <= 0:
        raise ValueError("clip parameters must be positive")
    gops = max(1, -(-round(seconds * fps) // gop_frames))
    frames = gops * gop_frames
    params: dict[str, Any] = {
        "recipe": RECIPE_VERSION, "width": width, "height": height, "fps": fps,
        "bitrate_kbps": bitrate_kbps, "gop_frames": gop_frames, "frames": frames,
        "audio": audio, "bframes": bframes,
    }
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    base = cache_dir / f"simcam-{width}x{height}-{fps}fps-{bitrate_kbps}k-{audio}-{key}"
    clip = Clip(
        video_path=base.with_suffix(".h264"),
        audio_path=None if audio == "none" else base.with_suffix(_AUDIO_SUFFIX[audio]),
        index_path=base.with_suffix(".json"),
        width=width, height=height, fps=fps, bitrate_kbps=bitrate_kbps,
        gop_frames=gop_frames, seconds=frames / fps, frames=frames, audio=audio,
        bframes=bframes,
    )
    if not clip.index_path.exists():
        # One encoder per clip across processes: a second encode could interleave its
        # renames with the first and pair one run's index with another run's video.
        with open(base.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not clip.index_path.exists():
                _encode(clip)
    return clip


_AUDIO_SUFFIX = {"aac": ".aac", "pcmu": ".ulaw"}


def _encode(clip: Clip) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ClipError("ffmpeg not found on PATH")
    cache_dir = clip.index_path.parent
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".tmp-simcam-") as tmp:
        tmp_video = Path(tmp) / "video.h264"
        _run([ffmpeg, *_video_args(clip), str(tmp_video)])
        tmp_audio: Path | None = None
        if clip.audio != "none":
            tmp_audio = Path(tmp) / f"audio{_AUDIO_SUFFIX[clip.audio]}"
            _run([ffmpeg, *_audio_args(clip), str(tmp_audio)])
        index = build_index(clip, tmp_video, tmp_audio)
        tmp_index = Path(tmp) / "index.json"
        tmp_index.write_text(json.dumps(index))
        # The index is renamed last: its presence means the clip is complete.
        os.replace(tmp_video, clip.video_path)
        if tmp_audio is not None and clip.audio_path is not None:
            os.replace(tmp_audio, clip.audio_path)
        os.replace(tmp_index, clip.index_path)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClipError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def _video_args(clip: Clip) -> list[str]:
    fontsize = max(16, clip.height // 16)
    # The burnt-in clock is the stream position, so a viewer sees time advance; the
    # temporal noise keeps testsrc2 from compressing far below the asked bitrate.
    text = "%{pts\\:hms}  frame %{n}"
    vf = (
        f"testsrc2=size={clip.width}x{clip.height}:rate={clip.fps},"
        "noise=alls=12:allf=t,"
        f"drawtext=fontfile={FONT}:text='{text}':fontsize={fontsize}:fontcolor=white:"
        "box=1:boxcolor=black@0.6:x=20:y=20"
    )
    rate = f"{clip.bitrate_kbps}k"
    return [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", vf, "-frames:v", str(clip.frames),
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-b:v", rate, "-maxrate", rate, "-bufsize", rate,
        "-g", str(clip.gop_frames), "-keyint_min", str(clip.gop_frames),
        "-sc_threshold", "0", "-bf", str(clip.bframes),
        "-x264-params", "aud=1:repeat-headers=1",
        "-f", "h264",
    ]


def _audio_args(clip: Clip) -> list[str]:
    if clip.audio == "aac":
        rate, frame = AAC_RATE, AAC_FRAME_SAMPLES
        codec = ["-c:a", "aac", "-b:a", "64k", "-f", "adts"]
    else:
        rate, frame = PCMU_RATE, PCMU_FRAME_SAMPLES
        codec = ["-c:a", "pcm_mulaw", "-f", "mulaw"]
    # A whole number of frames as close as possible to the video length, so audio and
    # video loop periods differ by less than one audio frame.
    frames = round(clip.seconds * rate / frame)
    if clip.audio == "aac":
        frames -= 1  # the AAC encoder prepends one frame of priming samples
    samples = frames * frame
    # A one-second beep pattern gives the listener a sense of time as well.
    src = f"sine=frequency=880:beep_factor=2:sample_rate={rate}"
    return [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", src, "-af", f"atrim=end_sample={samples}",
        "-ac", "1", "-ar", str(rate), *codec,
    ]


# --------------------------------------------------------------------------- index


def build_index(clip: Clip, video_path: Path, audio_path: Path | None) -> dict[str, Any]:
    """Describe every access unit and audio frame of the clip's files."""
    video = index_h264(video_path.read_bytes())
    if len(video) != clip.frames:
        raise ClipError(f"expected {clip.frames} access units, found {len(video)}")
    if not video[0][2]:
        raise ClipError("clip does not start with an IDR access unit")
    index: dict[str, Any] = {
        "params": {k: v for k, v in dataclasses.asdict(clip).items() if not k.endswith("_path")},
        "video": {"file": clip.video_path.name, "fps": clip.fps, "frames": video},
        "audio": None,
    }
    if audio_path is not None:
        data = audio_path.read_bytes()
        audio_name = clip.audio_path.name if clip.audio_path else audio_path.name
        if clip.audio == "aac":
            frames, config = index_adts(data)
            index["audio"] = {"codec": "aac", "file": audio_name, "rate": config["rate"],
                              "channels": config["channels"], "frame_samples": AAC_FRAME_SAMPLES,
                              "codec_data": config["asc"], "frames": frames}
        else:
            step = PCMU_FRAME_SAMPLES
            frames = [[off, min(step, len(data) - off)] for off in range(0, len(data), step)]
            index["audio"] = {"codec": "pcmu", "file": audio_name, "rate": PCMU_RATE, "channels": 1,
                              "frame_samples": step, "frames": frames}
    return index


def index_h264(data: bytes) -> list[list[int]]:
    """Split an Annex-B stream into access units at AUD NAL units.

    Returns [offset, size, is_keyframe] per access unit; a keyframe holds an IDR slice.
    """
    units: list[list[int]] = []
    start: int | None = None
    key = 0
    for pos, header in _nal_starts(data):
        nal_type = data[header] & 0x1F
        if nal_type == 9:  # access unit delimiter: a new access unit begins here
            if start is not None:
                units.append([start, pos - start, key])
            start, key = pos, 0
        elif nal_type == 5:
            key = 1
    if start is None:
        raise ClipError("no access unit delimiters in the H.264 stream (aud=1 missing?)")
    units.append([start, len(data) - start, key])
    return units


def _nal_starts(data: bytes) -> list[tuple[int, int]]:
    """(start code offset, NAL header offset) of every NAL unit in an Annex-B stream."""
    found = []
    pos = data.find(b"\x00\x00\x01")
    while pos != -1:
        begin = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        found.append((begin, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return found


def index_adts(data: bytes) -> tuple[list[list[int]], dict[str, Any]]:
    """Index ADTS frames as [payload offset, payload size] (headers stripped).

    Also returns the AudioSpecificConfig (hex) that RTP payloaders need as codec_data.
    """
    frames: list[list[int]] = []
    config: dict[str, Any] = {}
    off = 0
    while off + 7 <= len(data):
        if data[off] != 0xFF or data[off + 1] & 0xF6 != 0xF0:
            raise ClipError(f"bad ADTS sync word at byte {off}")
        protection_absent = data[off + 1] & 0x01
        profile = (data[off + 2] >> 6) + 1  # audio object type
        sf_index = (data[off + 2] >> 2) & 0x0F
        channels = ((data[off + 2] & 0x01) << 2) | (data[off + 3] >> 6)
        length = ((data[off + 3] & 0x03) << 11) | (data[off + 4] << 3) | (data[off + 5] >> 5)
        header = 7 if protection_absent else 9
        if not config:
            asc = (profile << 11) | (sf_index << 7) | (channels << 3)
            config = {"rate": ADTS_SAMPLE_RATES[sf_index], "channels": channels,
                      "asc": f"{asc:04x}"}
        frames.append([off + header, length - header])
        off += length
    if not frames:
        raise ClipError("no ADTS frames in the AAC stream")
    return frames, config
