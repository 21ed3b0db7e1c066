"""What happens to a camera's audio: copied when MP4 can carry it, else transcoded to AAC
(the default; G.711 is cheap to decode) or dropped with a warning, per
`recording.unsupported_audio`."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import av

from nvr_edge.storage.writer import AudioEncoderSpec

log = logging.getLogger(__name__)

MP4_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}
AAC_FRAME = 1024


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
            return AudioEncoderSpec("aac", self.rate, "mono", 32000)
        return None

    def convert(self, packet: Any) -> Iterable[Any]:
        if self.mode == "copy":
            return (packet,)
        if self.mode == "transcode":
            try:
                frames = self.stream.codec_context.decode(packet)
            except av.FFmpegError as exc:
                self.dropped += 1
                log.debug("audio packet undecodable: %s", exc)
                return ()
            return [out for frame in frames for out in self.resampler.resample(frame)]
        self.dropped += 1
        return ()

    def encode_into(self, stream: Any, frame: Any) -> list[Any]:
        return list(stream.encode(frame))

    def flush_into(self, stream: Any) -> list[Any]:
        return list(stream.encode(None))
