"""The ISO-BMFF boxes of a fragmented MP4, written by hand: an init segment (`ftyp` +
`moov`) and one `moof` + `mdat` fragment per LL-HLS part.

Why not PyAV's mp4 muxer: its fragments are cut by the muxer (on keyframes, durations or
a flush PyAV does not expose per packet), so a part boundary could not be placed exactly
where the packager decides, and each fragment would have to be found again in the output
bytes. Written here, one part is exactly one fragment, built when the part is closed."""

from __future__ import annotations

import struct
from dataclasses import dataclass

MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
KEY_FLAGS = 0x02000000       # sample_depends_on = 2 (an I picture)
DELTA_FLAGS = 0x01010000     # depends on others, not a sync sample
# trun: data-offset, sample duration, size, flags and composition offset present
TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


@dataclass(frozen=True)
class Track:
    """What the init segment says about one track; `entry` is its sample entry box."""

    track_id: int
    handler: bytes          # b"vide" or b"soun"
    timescale: int
    entry: bytes
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Sample:
    duration: int            # in the track's timescale
    data: bytes
    keyframe: bool = True
    composition_offset: int = 0


def avc1_entry(width: int, height: int, avcc: bytes) -> bytes:
    return box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16),
               struct.pack(">HHIIIH", width, height, 0x480000, 0x480000, 0, 1),
               bytes(32), struct.pack(">Hh", 0x18, -1), box(b"avcC", avcc))


def _descriptor(tag: int, body: bytes) -> bytes:
    size = len(body)  # four 7-bit length bytes: what most muxers write, any size fits
    return bytes([tag, 0x80 | (size >> 21 & 0x7F), 0x80 | (size >> 14 & 0x7F),
                  0x80 | (size >> 7 & 0x7F), size & 0x7F]) + body


def mp4a_entry(sample_rate: int, channels: int, config: bytes) -> bytes:
    decoder = _descriptor(4, bytes([0x40, 0x15]) + bytes(11) + _descriptor(5, config))
    es = _descriptor(3, struct.pack(">HB", 2, 0) + decoder + _descriptor(6, b"\x02"))
    return box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8),
               struct.pack(">HHHHI", channels, 16, 0, 0, min(sample_rate, 0xFFFF) << 16),
               full_box(b"esds", 0, 0, es))


def init_segment(tracks: list[Track]) -> bytes:
    ftyp = box(b"ftyp", b"iso5", struct.pack(">I", 512), b"iso5iso6mp41")
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0),
                    struct.pack(">IH", 0x10000, 0x100), bytes(10), MATRIX, bytes(24),
                    struct.pack(">I", max(t.track_id for t in tracks) + 1))
    traks = [_trak(t) for t in tracks]
    trexs = [full_box(b"trex", 0, 0, struct.pack(">IIIII", t.track_id, 1, 0, 0, 0))
             for t in tracks]
    return ftyp + box(b"moov", mvhd, *traks, box(b"mvex", *trexs))


def _trak(track: Track) -> bytes:
    video = track.handler == b"vide"
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track.track_id, 0, 0),
                    bytes(8), struct.pack(">hhhH", 0, 0, 0 if video else 0x100, 0), MATRIX,
                    struct.pack(">II", track.width << 16, track.height << 16))
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, track.timescale, 0,
                                               0x55C4, 0))  # language "und"
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), track.handler, bytes(12),
                    b"VideoHandler\0" if video else b"SoundHandler\0")
    header = full_box(b"vmhd", 0, 1, bytes(8)) if video else full_box(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1),
                                 full_box(b"url ", 0, 1)))
    empty = struct.pack(">I", 0)
    stbl = box(b"stbl", full_box(b"stsd", 0, 0, struct.pack(">I", 1), track.entry),
               full_box(b"stts", 0, 0, empty), full_box(b"stsc", 0, 0, empty),
               full_box(b"stsz", 0, 0, empty, empty), full_box(b"stco", 0, 0, empty))
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", header, dinf, stbl)))


def fragment(sequence: int, runs: list[tuple[int, int, list[Sample]]]) -> bytes:
    """One `moof` + `mdat`: `runs` are (track id, base decode time, samples), each
    track's data one after the other in the mdat."""
    runs = [run for run in runs if run[2]]

    def moof(offsets: list[int]) -> bytes:
        trafs = []
        for (track_id, base, samples), offset in zip(runs, offsets, strict=True):
            table = b"".join(struct.pack(">IIIi", s.duration, len(s.data),
                                         KEY_FLAGS if s.keyframe else DELTA_FLAGS,
                                         s.composition_offset) for s in samples)
            trafs.append(box(b"traf",
                             full_box(b"tfhd", 0, 0x020000, struct.pack(">I", track_id)),
                             full_box(b"tfdt", 1, 0, struct.pack(">Q", base)),
                             full_box(b"trun", 1, TRUN_FLAGS,
                                      struct.pack(">Ii", len(samples), offset), table)))
        return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), *trafs)

    size = len(moof([0] * len(runs)))  # offsets do not change the size
    offsets, at = [], size + 8
    for _, _, samples in runs:
        offsets.append(at)
        at += sum(len(s.data) for s in samples)
    return moof(offsets) + box(b"mdat", *(s.data for _, _, samples in runs for s in samples))
