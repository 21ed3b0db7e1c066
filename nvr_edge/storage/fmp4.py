"""The default segment writer: fragmented MP4 on the SSD cache, crash-safe by construction.

Each segment is written as `<cache>/<camera>/<YYYY-MM-DD>/<HHMMSS>.mp4.part` with an
`ftyp`+`moov` header and then ~1 s `moof`+`mdat` fragments, fsynced once per fragment, so
a power cut loses at most the fragment being written. close() truncates, fsyncs and
renames. Timestamps are copied, never re-encoded.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import av

from nvr_edge.config import CameraConfig, Config
from nvr_edge.fsutil import finish_file, make_dirs_durable, preallocate
from nvr_edge.hookspecs import hookimpl
from nvr_edge.models import iso_utc
from nvr_edge.storage.layout import part_of, segment_path
from nvr_edge.storage.writer import AudioEncoderSpec, ClosedFile, SegmentMeta

log = logging.getLogger(__name__)


class _CountingFile:
    """The file PyAV writes through: counts bytes and keeps the descriptor ours to fsync."""

    def __init__(self, path: Path) -> None:
        self.raw = open(path, "xb", buffering=0)  # noqa: SIM115 - closed in Fmp4SegmentWriter
        self.written = 0

    def write(self, data: bytes) -> int:
        n = self.raw.write(data)
        self.written = max(self.written, self.raw.tell())
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


class Fmp4SegmentWriter:
    def __init__(self, path: Path, meta: SegmentMeta, video: Any, audio: Any | None,
                 fragment_ms: int, expected_bytes: int) -> None:
        self.path = path
        self.part = part_of(path)
        make_dirs_durable(path.parent)
        self.file = _CountingFile(self.part)
        try:
            preallocate(self.file.raw.fileno(), expected_bytes)
            self.container = av.open(self.file, "w", format="mp4", options={
                "movflags": "empty_moov+default_base_moof+frag_discont+use_metadata_tags",
                "frag_duration": str(fragment_ms * 1000),
            })
            self.container.metadata.update({
                "nvr_camera": meta.camera, "nvr_device": meta.device,
                "nvr_stream": meta.stream, "nvr_start": iso_utc(meta.start_ms),
                "creation_time": iso_utc(meta.start_ms),
            })
            self.streams = {"video": self.container.add_stream_from_template(video)}
            if audio is not None:
                self.streams["audio"] = _add_audio(self.container, audio)
        except BaseException:
            self.file.raw.close()
            self.part.unlink(missing_ok=True)
            raise

    def write(self, packet: Any) -> None:
        self.container.mux(packet)

    def sync(self) -> None:
        os.fsync(self.file.raw.fileno())

    def close(self) -> ClosedFile:
        try:
            self.container.close()  # writes the last fragment and the mfra index
        finally:
            fd = self.file.raw.fileno()
            finish_file(fd, self.file.written, self.part, self.path)
            self.file.raw.close()
        return ClosedFile(self.path, self.file.written)


def _add_audio(container: Any, audio: Any) -> Any:
    """Copy a stream MP4 can carry; an AudioEncoderSpec asks for a track to encode into."""
    if isinstance(audio, AudioEncoderSpec):
        stream = container.add_stream(audio.codec, rate=audio.rate)
        stream.codec_context.layout = audio.layout
        stream.codec_context.bit_rate = audio.bit_rate
        return stream
    return container.add_stream_from_template(audio)


class Fmp4WriterFactory:
    def __init__(self, root: Path, fragment_ms: int) -> None:
        self.root, self.fragment_ms = root, fragment_ms

    def open(self, meta: SegmentMeta, video: Any, audio: Any | None,
             expected_bytes: int) -> tuple[Fmp4SegmentWriter, dict[str, Any]]:
        path = segment_path(self.root, meta.camera, meta.stream, meta.start_ms)
        writer = Fmp4SegmentWriter(path, meta, video, audio, self.fragment_ms, expected_bytes)
        return writer, writer.streams


@hookimpl(trylast=True)
def nvr_segment_writer_factory(camera: CameraConfig, config: Config) -> Fmp4WriterFactory:
    return Fmp4WriterFactory(config.storage.cache_dir, config.recording.fragment_ms)
