"""The picture size in effect, read from each keyframe's parameter sets.

A camera may change its resolution mid-stream (a new SPS at a keyframe) while the RTSP
session, and so the input stream's parameters, stay those of the start. A segment's init
(`moov`: track size, avcC/hvcC) describes one size only, and its catalog row names one:
the recorder starts a new segment at the keyframe that changes the size, and gives that
segment the new size and parameter sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import av

from nvr_edge.camera.access_unit import annex_b_units

log = logging.getLogger(__name__)

# NAL unit types of the parameter sets an init segment carries.
PARAMETER_SETS = {"h264": {7, 8}, "hevc": {32, 33, 34}}


@dataclass(frozen=True)
class PictureShape:
    width: int
    height: int
    extradata: bytes | None  # parameter sets for the init segment; None: the template's


def nal_type(codec: str, header: int) -> int:
    return header & 0x1F if codec == "h264" else (header >> 1) & 0x3F


class ShapeWatch:
    """Follows the size of a H.264 / H.265 stream's pictures from keyframe to keyframe
    (other codecs keep the size their stream started with)."""

    def __init__(self, template: Any) -> None:
        context = template.codec_context
        self.codec: str = context.name
        self.template_extradata: bytes | None = context.extradata
        self.initial = PictureShape(context.width, context.height, None)
        self.current = self.initial

    def observe(self, packet: Any) -> bool:
        """Read the size from a keyframe; True when it differs from the last one seen."""
        if self.codec not in PARAMETER_SETS:
            return False
        keyframe = bytes(packet)
        try:
            parser = av.CodecContext.create(self.codec, "r")
            if self.template_extradata:
                parser.extradata = self.template_extradata  # avcC: how NALs are framed
            parser.parse(keyframe)
            parser.parse(None)  # flush: the parser reports a frame once it has ended
        except av.FFmpegError as exc:
            log.debug("keyframe not parsed: %s", exc)
            return False
        if not parser.width or not parser.height:
            return False  # no parameter sets in this keyframe: the size stands
        if (parser.width, parser.height) == (self.current.width, self.current.height):
            return False
        self.current = PictureShape(parser.width, parser.height,
                                    self._parameter_sets(keyframe))
        return True

    def forget(self) -> None:
        """The stream starts anew (another encoder took over): the next keyframe's size
        and parameter sets are taken as new, whatever they are."""
        self.current = PictureShape(0, 0, None)

    def _parameter_sets(self, keyframe: bytes) -> bytes | None:
        """The keyframe's in-band parameter sets, Annex B framed (what the MP4 muxer turns
        into avcC/hvcC); None when it has none in that framing."""
        wanted = PARAMETER_SETS[self.codec]
        units = [unit for unit in annex_b_units(keyframe)
                 if nal_type(self.codec, unit[0]) in wanted]
        return b"".join(b"\x00\x00\x00\x01" + unit for unit in units) or None

    def apply(self, stream: Any) -> None:
        """Give a new segment's output video stream the current size and parameter sets
        (before its header is written, at its first packet)."""
        if self.current == self.initial:
            return
        context = stream.codec_context
        context.width, context.height = self.current.width, self.current.height
        if self.current.extradata is not None:
            context.extradata = self.current.extradata
