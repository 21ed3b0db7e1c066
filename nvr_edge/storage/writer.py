"""The segment-writer interface the worker records through (a plugin may supply its own)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class SegmentMeta:
    """What is embedded in every file and needed to name it."""

    camera: str
    device: str
    stream: str
    start_ms: int


@dataclass(frozen=True)
class AudioEncoderSpec:
    """Asks the writer for a new audio track of this codec (transcoded audio), instead of a
    track copied from an input stream. The recorder writes the packets of its own encoder,
    one for the whole session, into it: the track's encoder is only there to describe the
    stream (AudioSpecificConfig) and never encodes."""

    codec: str
    rate: int
    layout: str
    bit_rate: int


@dataclass(frozen=True)
class ClosedFile:
    path: Path
    bytes: int


class SegmentWriter(Protocol):
    path: Path  # the final name; the file is written under a temporary one until close()

    def write(self, packet: Any) -> None:
        """Mux one packet (its `stream` already set to one of `output_streams`)."""

    def sync(self) -> None:
        """Make everything muxed so far durable (called about once per fragment)."""

    def close(self) -> ClosedFile:
        """Finish the file: trailer, truncate, fsync, rename to `path`."""


class SegmentWriterFactory(Protocol):
    def open(self, meta: SegmentMeta, video: Any, audio: Any | None,
             expected_bytes: int) -> tuple[SegmentWriter, dict[str, Any]]:
        """Start a segment. `video` and `audio` are input streams to copy or, for audio, an
        AudioEncoderSpec; returns the writer and {"video": out_stream, "audio": ...}."""
