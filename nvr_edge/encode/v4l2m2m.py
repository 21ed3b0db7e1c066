"""Built-in plugin `v4l2m2m_encoder`: `h264_v4l2m2m` (Raspberry Pi 4's bcm2835-codec and
other SoCs' stateful V4L2 encoders). In process through PyAV when PyAV's FFmpeg has it (its
wheels do, for x86-64 and aarch64 alike: the board images carry no `ffmpeg` binary), else
as an FFmpeg child process like the other hardware engines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nvr_edge.encode.child import hardware_offer
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, profile_args
from nvr_edge.encode.offer import EncoderError, EncoderOffer, EncodeTarget, Engine
from nvr_edge.encode.software import PyAvEncoder
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    from nvr_edge.config import Config

NAME = "h264_v4l2m2m"
DEVICE = "/dev/video11"  # Raspberry Pi 4's H.264 encoder node (bcm2835-codec)
CAPTURE_BUFFERS = "16"
# AVCodecContext's own numbers (FFmpeg's AV_PROFILE_H264_* and level x 10): the generic
# options take no names for H.264.
PROFILES = {"baseline": "66", "main": "77", "high": "100"}


def engine_args(offer: EncoderOffer) -> EngineArgs:
    # FFmpeg finds the M2M node itself (it scans /dev/video*); the Pi's encoder takes only
    # planar yuv420p ("Encoder requires yuv420p") and level 4.2 at most.
    return EngineArgs(NAME, "yuv420p", codec_args=(
        *profile_args(offer.options),
        "-num_capture_buffers", CAPTURE_BUFFERS))


def pyav_options(offer: EncoderOffer) -> dict[str, str]:
    """What `engine_args` tells the FFmpeg child, as avcodec_open2's options."""
    profile = offer.options.get("profile", "high")
    level = offer.options.get("level", "4.1")
    try:
        return {"profile": PROFILES[profile], "level": str(round(float(level) * 10)),
                "num_capture_buffers": CAPTURE_BUFFERS}
    except (KeyError, ValueError):
        raise EncoderError(f"{NAME}: profile {profile!r} / level {level!r}: expected one of "
                         f"{', '.join(PROFILES)} and a number such as 4.1") from None


def open_in_process(offer: EncoderOffer, target: EncodeTarget) -> PyAvEncoder:
    """No pipe of raw frames to a child (1080p25 is ~78 MB/s of copies on a Pi), and a
    keyframe where the source has one (the child keeps a fixed GOP). The price: a driver
    that crashes takes the camera's worker with it (the supervisor restarts it); one that
    hangs is caught by the session's stall check as in a child."""
    return PyAvEncoder(target, codec=NAME, options=pyav_options(offer))


def pyav_has_it() -> bool:
    import av

    return NAME in av.codecs_available


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    offer = hardware_offer(NAME, Engine.V4L2M2M, engine_args, DEVICE)
    if pyav_has_it():
        return [EncoderOffer(NAME, Engine.V4L2M2M, open_in_process, device=DEVICE,
                             priority=offer.priority, options={**offer.options, "via": "pyav"})]
    return [offer]
