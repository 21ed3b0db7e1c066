"""Packets of any video FFmpeg decodes (MJPEG from a USB camera, H.264 for a lighter live
rendition) in, H.264 packets out through an `EncoderSession`, stamped with the source's
timestamps. The piece the MJPEG recorder and the live rendition stand on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av

from nvr_edge.encode.offer import EncodedPacket
from nvr_edge.encode.session import EncoderSession

# Every frame of these is a keyframe: forcing one per source keyframe would make an
# all-intra stream. Their output keeps the encoder's GOP instead.
INTRA_ONLY = frozenset({"mjpeg", "rawvideo"})


@dataclass(frozen=True)
class TimedPacket:
    data: bytes          # Annex B, parameter sets before each keyframe
    pts: int | None      # the source frame's, in `time_base` (no B-frames: dts == pts)
    time_base: Fraction
    keyframe: bool


class Transcoder:
    def __init__(self, session: EncoderSession, codec: str, time_base: Fraction,
                 extradata: bytes | None = None, width: int = 0, height: int = 0,
                 pix_fmt: str | None = None) -> None:
        """`width`, `height`, `pix_fmt`: the source's, which a `rawvideo` decoder (a USB
        camera's YUYV) cannot open without: its packets carry no header."""
        self.session, self.time_base = session, time_base
        self._decoder = av.CodecContext.create(codec, "r")
        if extradata:
            self._decoder.extradata = extradata
        if width and height:
            self._decoder.width, self._decoder.height = width, height
        if pix_fmt:
            self._decoder.pix_fmt = pix_fmt
        self._follow_keyframes = codec not in INTRA_ONLY
        self._pending: deque[int | None] = deque()  # pts of frames inside the encoder
        self._opened = session.opened
        # Intra-only sources: a keyframe every `gop_s` of source time, whatever frame rate
        # the encoder was told (USB and RTP JPEG cameras often report none, or a wrong one).
        self._gop_ticks = session.target.gop_s / time_base if not self._follow_keyframes \
            else None
        self._next_key: float | None = None
        self.frames_out = 0
        self.undecodable = 0   # source packets the decoder refused, in a row
        self.decode_error = ""  # the last refusal's words

    def transcode(self, packet: av.Packet) -> list[TimedPacket]:
        """A packet the decoder refuses (a torn JPEG, a corrupt slice) gives nothing and is
        counted: one bad frame must not end a camera's recording; the caller decides when
        a run of them has gone on too long."""
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError as exc:
            self.undecodable += 1
            self.decode_error = str(exc)
            return []
        self.undecodable = 0
        out: list[TimedPacket] = []
        for frame in frames:
            out += self.encode_frame(frame, self._keyframe_wanted(packet, frame.pts))
        return out

    def _keyframe_wanted(self, packet: av.Packet, pts: int | None) -> bool:
        if self._gop_ticks is None:
            return packet.is_keyframe
        return pts is not None and self._next_key is not None and pts >= self._next_key

    def encode_frame(self, frame: av.VideoFrame, keyframe: bool = False) -> list[TimedPacket]:
        """A frame decoded elsewhere (one decoder feeding several renditions)."""
        self._pending.append(frame.pts)
        packets = self.session.encode(frame, force_keyframe=keyframe)
        if self.session.opened != self._opened:
            # another encoder took over with this frame: what the old one held is lost
            self._opened = self.session.opened
            self._pending = deque([frame.pts])
        return self._stamped(packets)

    def _stamped(self, packets: list[EncodedPacket]) -> list[TimedPacket]:
        # no B-frames: packets leave in the order their frames went in
        out = [TimedPacket(p.data, self._pending.popleft() if self._pending else None,
                           self.time_base, p.keyframe) for p in packets]
        self.frames_out += len(out)
        if self._gop_ticks is not None:
            for p in out:
                if p.keyframe and p.pts is not None:
                    self._next_key = p.pts + self._gop_ticks
        return out

    def close(self) -> list[TimedPacket]:
        """What the encoder still holds, then the session closed."""
        tail = self._stamped(self.session.flush())
        self.session.close()
        return tail
