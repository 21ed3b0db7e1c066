"""The software encoder: libx264 through PyAV, in the calling process. Built-in plugin
`x264_encoder`; always offered when PyAV's FFmpeg has libx264, and always ranked last."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from nvr_edge.encode.annexb import HeaderRepeater
from nvr_edge.encode.offer import EncodedPacket, EncoderError, EncoderOffer, EncodeTarget, Engine
from nvr_edge.hookspecs import hookimpl

if TYPE_CHECKING:
    import av

    from nvr_edge.config import Config

NAME = "libx264"


def x264_options(target: EncodeTarget, preset: str = "superfast") -> dict[str, str]:
    """Low latency for live and recording alike: no B-frames and no lookahead (a frame
    leaves as soon as it is encoded), a fixed GOP so segments cut every `gop_s`, parameter
    sets before every keyframe so any keyframe starts a decodable stream."""
    return {"preset": preset, "tune": "zerolatency", "profile": "high",
            "x264-params": f"keyint={target.gop_frames}:min-keyint={target.gop_frames}"
                           ":scenecut=0:bframes=0:repeat-headers=1"}


class PyAvEncoder:
    """An encoder of PyAV's FFmpeg in process: libx264 (`x264_options` unless `options`
    say otherwise), or a hardware one PyAV's wheel carries (h264_v4l2m2m). Frames are
    scaled and converted to yuv420p here."""

    def __init__(self, target: EncodeTarget, preset: str = "superfast",
                 codec: str = NAME, options: dict[str, str] | None = None) -> None:
        import av

        self.target = target
        self.codec = codec
        try:
            ctx = av.CodecContext.create(codec, "w")
        except (av.FFmpegError, ValueError) as exc:
            raise EncoderError(f"{codec}: {exc}") from exc
        ctx.width, ctx.height, ctx.pix_fmt = target.width, target.height, "yuv420p"
        ctx.time_base = Fraction(1, target.fps)
        ctx.framerate = Fraction(target.fps, 1)
        ctx.bit_rate = target.bitrate_kbps * 1000
        ctx.gop_size = target.gop_frames
        ctx.max_b_frames = 0
        ctx.options = x264_options(target, preset) if options is None else options
        try:
            ctx.open()
        except av.FFmpegError as exc:
            raise EncoderError(f"{codec} would not open: {exc}") from exc
        self._ctx = ctx
        self._next_pts = 0
        self._headers = HeaderRepeater(ctx.extradata)

    def encode(self, frame: av.VideoFrame, force_keyframe: bool = False
               ) -> list[EncodedPacket]:
        from av.video.frame import PictureType

        t = self.target
        out = frame.reformat(width=t.width, height=t.height, format="yuv420p")
        out.pts, out.time_base = self._next_pts, self._ctx.time_base
        self._next_pts += 1
        out.pict_type = PictureType.I if force_keyframe else PictureType.NONE
        return self._packets(self._ctx.encode(out))

    def flush(self) -> list[EncodedPacket]:
        return self._packets(self._ctx.encode(None))

    def close(self) -> None:
        self._ctx = None  # type: ignore[assignment]  # PyAV frees it with the object

    def _packets(self, packets: list[av.Packet]) -> list[EncodedPacket]:
        out = []
        for p in packets:
            data = bytes(p)
            sent = self._headers.packet(data, p.is_keyframe)
            if sent is not None:  # (headers alone are no frame's packet: none to stamp)
                out.append(EncodedPacket(sent[0], p.pts, sent[1]))
        return out


def open_software(offer: EncoderOffer, target: EncodeTarget) -> PyAvEncoder:
    return PyAvEncoder(target, preset=offer.options.get("preset", "superfast"))


def available() -> bool:
    import av

    return NAME in av.codecs_available


@hookimpl
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    if not available():
        return []
    return [EncoderOffer(NAME, Engine.SOFTWARE, open_software, priority=0,
                         options={"preset": "superfast"})]
