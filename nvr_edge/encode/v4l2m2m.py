"""Built-in plugin `v4l2m2m_encoder`: `h264_v4l2m2m` (Raspberry Pi 4's bcm2835-codec and
other SoCs' stateful V4L2 encoders), run as an FFmpeg child process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nvr_edge.encode.child import hardware_offer
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, profile_args
from nvr_edge.encode.offer import EncoderOffer, Engine
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    from nvr_edge.config import Config

NAME = "h264_v4l2m2m"
DEVICE = "/dev/video11"  # Raspberry Pi 4's H.264 encoder node (bcm2835-codec)


def engine_args(offer: EncoderOffer) -> EngineArgs:
    # FFmpeg finds the M2M node itself (it scans /dev/video*); the Pi's encoder takes only
    # planar yuv420p ("Encoder requires yuv420p") and level 4.2 at most.
    return EngineArgs(NAME, "yuv420p", codec_args=(
        *profile_args(offer.options),
        "-num_capture_buffers", "16"))


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    return [hardware_offer(NAME, Engine.V4L2M2M, engine_args, DEVICE)]
