"""The exact FFmpeg command each hardware engine runs, against what its board needs
(hw/README.md): device, pixel format, upload, bitrate, GOP, no B-frames, profile."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from nvr_edge import EncodeTarget
from nvr_edge.encode import rkmpp, v4l2m2m, vaapi
from nvr_edge.encode.board import board_preference
from nvr_edge.encode.ffmpeg_cmd import ffmpeg_command
from nvr_edge.plugins import make_plugin_manager

TARGET = EncodeTarget(1280, 720, fps=25, bitrate_kbps=2000, gop_s=2.0)
HW = Path(__file__).resolve().parents[2] / "hw"
COMMON_IN = ["-f", "rawvideo", "-s", "1280x720", "-r", "25", "-i", "pipe:0", "-an"]
COMMON_OUT = ["-b:v", "2000k", "-maxrate", "2000k", "-bufsize", "4000k", "-g", "50",
              "-bf", "0", "-bsf:v", "dump_extra=freq=keyframe", "-flush_packets", "1",
              "-f", "h264", "pipe:1"]
HEAD = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostats"]


def expected(device: list[str], pix_fmt: str, filters: list[str], codec: str,
             codec_args: list[str]) -> list[str]:
    head = [*HEAD, *device, "-f", "rawvideo", "-pix_fmt", pix_fmt, *COMMON_IN[2:]]
    b = COMMON_OUT
    return [*head, *filters, "-c:v", codec, *b[:10], *codec_args, *b[10:]]


HIGH_41 = ["-profile:v", "high", "-level", "4.1"]


@pytest.mark.parametrize(("module", "device", "command"), [
    # VAAPI: nv12 uploaded to the render node's surfaces; SEI off
    (vaapi, "/dev/dri/renderD128", expected(
        ["-vaapi_device", "/dev/dri/renderD128"], "nv12", ["-vf", "format=nv12,hwupload"],
        "h264_vaapi", [*HIGH_41, "-sei", "0"])),
    # the Pi's M2M encoder: planar yuv420p only
    (v4l2m2m, "/dev/video11", expected(
        [], "yuv420p", [], "h264_v4l2m2m", [*HIGH_41, "-num_capture_buffers", "16"])),
    # MPP: system-memory nv12, constant bitrate
    (rkmpp, "/dev/mpp_service", expected(
        [], "nv12", [], "h264_rkmpp", [*HIGH_41, "-rc_mode", "CBR"])),
], ids=["vaapi", "v4l2m2m", "rkmpp"])
def test_the_exact_command(module: ModuleType, device: str, command: list[str]) -> None:
    offer = module.nvr_encoders(config=None)[0]
    assert (offer.device, offer.priority) == (device, 10)
    assert ffmpeg_command(module.engine_args(offer), TARGET) == command


def test_each_board_prefers_an_encoder_a_builtin_offers() -> None:
    offered = {o.name for offers in make_plugin_manager(load_entry_points=False)
               .hook.nvr_encoders(config=None) for o in offers}
    prefs = {path.stem: board_preference(path) for path in HW.glob("*.toml")}
    assert prefs == {"rk3588": "h264_rkmpp", "rpi4": "h264_v4l2m2m",
                     "qemu_aarch64_virt": None}
    assert {p for p in prefs.values() if p} <= offered
    for path in HW.glob("*.toml"):  # the plugin named beside it is a built-in
        plugin = tomllib.loads(path.read_text())["encoder"]["plugin"]
        assert plugin in ("", "rkmpp_encoder", "v4l2m2m_encoder")


def test_a_broken_board_file_prefers_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "hw.toml"
    bad.write_text("[encoder\n")
    assert board_preference(bad) is None
    assert board_preference(tmp_path / "missing.toml") is None
