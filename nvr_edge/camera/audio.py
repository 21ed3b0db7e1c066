"""What happens to a camera's audio: copied when MP4 can carry it, else transcoded to AAC
(the default; G.711 is cheap to decode) or dropped with a warning, per
`recording.unsupported_audio`.

Transcoded audio goes through one AAC encoder for the whole session, not one per segment:
an AAC encoder's first packet is 1024 samples of priming (128 ms at 8 kHz), so a new
encoder per segment began every segment with that much silence, audio of the camera's
lost to the listener at each cut. Packets leave in order, each in exactly one segment."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import av

from nvr_edge.storage.writer import AudioEncoderSpec

log = logging.getLogger(__name__)

MP4_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}
AAC_FRAME = 1024
AAC_BIT_RATE = 32000


class AudioRoute:
    """Copy, transcode or drop one input audio stream, segment after segment."""

    def __init__(self, camera: str, stream: Any | None, unsupported: str) -> None:
        self.stream = stream
        self.mode = "none"
        self.dropped = 0
        if stream is None:
            return
        name = stream.codec_context.name
        if name in MP4_AUDIO:
            self.mode = "copy"
        elif unsupported == "transcode":
            self.mode = "transcode"
            self.rate = stream.codec_context.sample_rate or 8000
            self.resampler = av.AudioResampler(format="fltp", layout="mono", rate=self.rate,
                                               frame_size=AAC_FRAME)
            self.encoder = aac_encoder(self.rate)
            log.info("%s: audio %s is transcoded to AAC (MP4 cannot carry it)", camera, name)
        else:
            self.mode = "drop"
            log.warning("%s: audio %s cannot go into MP4 and unsupported_audio = \"drop\": "
                        "recording video only", camera, name)

    @property
    def encodes(self) -> bool:
        return self.mode == "transcode"

    def template(self) -> Any | None:
        """What the segment writer adds as the audio track (None: no audio track)."""
        if self.mode == "copy":
            return self.stream
        if self.mode == "transcode":
            return AudioEncoderSpec("aac", self.rate, "mono", AAC_BIT_RATE)
        return None

    def convert(self, packet: Any) -> Iterable[Any]:
        """The packets to write for one input packet (AAC ones when transcoding: those
        the encoder gives back now, for audio up to ~2 frames earlier)."""
        if self.mode == "copy":
            return (packet,)
        if self.mode == "transcode":
            try:
                frames = self.stream.codec_context.decode(packet)
            except av.FFmpegError as exc:
                self.dropped += 1
                log.debug("audio packet undecodable: %s", exc)
                return ()
            return [out for frame in frames for resampled in self.resampler.resample(frame)
                    for out in self._encoded(resampled)]
        self.dropped += 1
        return ()

    def flush(self) -> list[Any]:
        """At the session's end: what the encoder still holds (the last segment's tail)."""
        if self.mode != "transcode":
            return []
        held = [out for resampled in self.resampler.resample(None)
                for out in self._encoded(resampled)]
        held += self._encoded(None)
        # drained encoders take no more frames: fresh ones for a segment after this
        # (a transcoded camera's encoder switch closes a segment mid-session)
        self.resampler = av.AudioResampler(format="fltp", layout="mono", rate=self.rate,
                                           frame_size=AAC_FRAME)
        self.encoder = aac_encoder(self.rate)
        return held

    def _encoded(self, frame: Any | None) -> list[Any]:
        packets = list(self.encoder.encode(frame))
        for p in packets:
            p.time_base = self.encoder.time_base
        return packets


def aac_encoder(rate: int) -> Any:
    """AAC-LC mono at `rate`: what `AudioEncoderSpec` asks the segment writer's track for,
    so the track's own (unused) encoder has the same AudioSpecificConfig."""
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = rate, "mono", "fltp"
    encoder.bit_rate = AAC_BIT_RATE
    encoder.time_base = Fraction(1, rate)
    encoder.open()
    return encoder
