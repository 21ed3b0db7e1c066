"""Just enough ISO-BMFF (MP4) parsing to find where a fragmented file stops being valid.

A crash leaves a `.part` file: `ftyp`, `moov`, then `moof`+`mdat` pairs, the last one
possibly cut short (or followed by zeros from pre-allocation). Everything up to the end of
the last complete `mdat` that follows a `moof` is playable.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# A final mdat whose last bytes are all zero was most likely completed by zeroed blocks (a
# file system that grew the file before its data reached the disk): treat it as cut short.
# Real H.264/AAC payloads practically never end in this many zero bytes.
ZERO_TAIL = 16

# Boxes that may sit between fragments without carrying media of their own.
_SIDE_BOXES = {b"styp", b"sidx", b"prft", b"emsg", b"free", b"skip", b"mfra", b"udta", b"meta"}


@dataclass(frozen=True)
class Box:
    type: bytes
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def _valid_type(box_type: bytes) -> bool:
    return all(32 <= c < 127 for c in box_type)


def iter_boxes(f: BinaryIO, file_size: int) -> Iterator[Box]:
    """Complete top-level boxes in order; stops at the first truncated or invalid one."""
    offset = 0
    while offset + 8 <= file_size:
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            return
        size, box_type = struct.unpack(">I4s", header[:8])
        if size == 1:  # 64-bit size follows the type
            if len(header) < 16:
                return
            size = struct.unpack(">Q", header[8:16])[0]
            minimum = 16
        else:
            minimum = 8
        # size 0 means "to the end of the file": never written by a fragmenting muxer
        # mid-file, and exactly what zeroed pre-allocation looks like, so stop there.
        if size < minimum or not _valid_type(box_type) or offset + size > file_size:
            return
        yield Box(box_type, offset, size)
        offset += size


def playable_length(f: BinaryIO, file_size: int) -> int:
    """Bytes of the file that form a valid fragmented MP4; 0 if not even one fragment."""
    seen_ftyp = seen_moov = False
    pending_moof = False
    good_end = 0
    last_mdat: Box | None = None
    for box in iter_boxes(f, file_size):
        if box.type == b"ftyp" and not seen_ftyp:
            seen_ftyp = True
        elif box.type == b"moov" and seen_ftyp and not seen_moov:
            seen_moov = True
        elif not seen_moov:
            return 0
        elif box.type == b"moof":
            pending_moof = True
        elif box.type == b"mdat" and pending_moof:
            pending_moof = False
            good_end, last_mdat = box.end, box
        elif box.type in _SIDE_BOXES and not pending_moof:
            if good_end:
                good_end = box.end
        else:
            break
    if last_mdat is not None and good_end == last_mdat.end and _zero_tail(f, last_mdat):
        return _previous_fragment_end(f, last_mdat.offset)
    return good_end


def _zero_tail(f: BinaryIO, mdat: Box) -> bool:
    if mdat.size - 8 < ZERO_TAIL:
        return False
    f.seek(mdat.end - ZERO_TAIL)
    return f.read(ZERO_TAIL) == bytes(ZERO_TAIL)


def _previous_fragment_end(f: BinaryIO, limit: int) -> int:
    """The playable length of the file cut before the suspicious last fragment."""
    end = 0
    moof_end = -1
    for box in iter_boxes(f, limit):
        if box.type == b"moof":
            moof_end = box.end
        elif box.type == b"mdat" and box.offset == moof_end:
            end = box.end
    return end


def playable_length_of(path: str) -> int:
    with open(path, "rb") as f:
        f.seek(0, 2)
        return playable_length(f, f.tell())
