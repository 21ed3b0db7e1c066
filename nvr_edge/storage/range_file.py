"""A read-only, seekable file over a segment kept off the box (`RemoteSegment`): what the
demuxer gets when the local file is gone. Reads go out as ranged reads of whole blocks,
so a demuxer's many small reads cost a few requests."""

from __future__ import annotations

import io

from nvr_edge.api import RemoteSegment

BLOCK = 1024 * 1024


class RangeFile(io.RawIOBase):
    def __init__(self, remote: RemoteSegment, size: int, block: int = BLOCK) -> None:
        self.remote, self.size, self.block = remote, size, block
        self.position = 0
        self.cached_at = -1
        self.cached = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self.position >= self.size:
            return 0
        start = self.position - self.position % self.block
        if start != self.cached_at:
            length = min(self.block, self.size - start)
            self.cached = b"".join(self.remote.chunks(start, length))
            self.cached_at = start
        offset = self.position - start
        piece = self.cached[offset:offset + len(buffer)]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)
