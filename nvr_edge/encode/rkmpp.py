"""Built-in plugin `rkmpp_encoder`: `h264_rkmpp` (Rockchip MPP: RK3588, RK3568), run as a
child process of an FFmpeg built with rkmpp (nyanmisaka's ffmpeg-rockchip)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nvr_edge.encode.child import open_ffmpeg
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, ffmpeg_command
from nvr_edge.encode.offer import EncoderOffer, EncodeTarget, Engine
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    from nvr_edge.config import Config

NAME = "h264_rkmpp"
DEVICE = "/dev/mpp_service"  # the vendor kernel's MPP node (5.10 / 6.1 BSP)


def engine_args(offer: EncoderOffer) -> EngineArgs:
    # MPP takes system-memory nv12 directly; CBR keeps a recording's size predictable.
    return EngineArgs(NAME, "nv12", codec_args=(
        "-profile:v", offer.options.get("profile", "high"),
        "-level", offer.options.get("level", "4.1"),
        "-rc_mode", offer.options.get("rc_mode", "CBR")))


def command(offer: EncoderOffer, target: EncodeTarget) -> list[str]:
    return ffmpeg_command(engine_args(offer), target)


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    return [EncoderOffer(NAME, Engine.RKMPP, open_ffmpeg(command), device=DEVICE,
                         priority=10, options={"profile": "high", "level": "4.1",
                                               "rc_mode": "CBR"})]
