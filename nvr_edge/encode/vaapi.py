"""Built-in plugin `vaapi_encoder`: `h264_vaapi` (Intel and AMD GPUs), run as an FFmpeg
child process; frames are uploaded to the GPU as nv12."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nvr_edge.encode.child import hardware_offer
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, profile_args
from nvr_edge.encode.offer import EncoderOffer, Engine
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    from nvr_edge.config import Config

NAME = "h264_vaapi"
DEVICE = "/dev/dri/renderD128"


def engine_args(offer: EncoderOffer) -> EngineArgs:
    # -vaapi_device makes the device hwupload uses (an -hwaccel_device one it cannot
    # see, go2rtc#1984); SEI off: some players choke on VAAPI's timing SEI.
    return EngineArgs(NAME, "nv12", device_args=("-vaapi_device", offer.device or DEVICE),
                      filters="format=nv12,hwupload",
                      codec_args=(*profile_args(offer.options), "-sei", "0"))


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    return [hardware_offer(NAME, Engine.VAAPI, engine_args, DEVICE)]
