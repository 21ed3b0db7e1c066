"""Built-in plugin `rkmpp_encoder`: `h264_rkmpp` (Rockchip MPP: RK3588, RK3568), run as a
child process of an FFmpeg built with rkmpp (nyanmisaka's ffmpeg-rockchip)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nvr_edge.encode.child import hardware_offer
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, profile_args
from nvr_edge.encode.offer import EncoderOffer, Engine
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    from nvr_edge.config import Config

NAME = "h264_rkmpp"
DEVICE = "/dev/mpp_service"  # the vendor kernel's MPP node (5.10 / 6.1 BSP)


def engine_args(offer: EncoderOffer) -> EngineArgs:
    # MPP takes system-memory nv12 directly; CBR keeps a recording's size predictable.
    return EngineArgs(NAME, "nv12", codec_args=(
        *profile_args(offer.options),
        "-rc_mode", offer.options.get("rc_mode", "CBR")))


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    return [hardware_offer(NAME, Engine.RKMPP, engine_args, DEVICE, rc_mode="CBR")]
