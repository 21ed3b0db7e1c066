"""A small reader of HLS playlists for the tests: a media playlist's tags with their
attributes, parts, segments and rendition reports in order; a multivariant playlist's
variants (RFC 8216bis attribute lists)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(text)}


@dataclass
class PartEntry:
    msn: int
    index: int
    duration: float
    uri: str
    independent: bool


@dataclass
class SegmentEntry:
    msn: int
    program_date_time: datetime | None
    parts: list[PartEntry] = field(default_factory=list)
    duration: float | None = None   # None: still open (parts only)
    uri: str | None = None


@dataclass
class Playlist:
    tags: dict[str, str]            # the single-valued tags, by name
    segments: list[SegmentEntry]
    reports: list[dict[str, str]] = field(default_factory=list)  # EXT-X-RENDITION-REPORTs

    @property
    def parts(self) -> list[PartEntry]:
        return [p for s in self.segments for p in s.parts]


def parse_playlist(text: str) -> Playlist:
    lines = text.splitlines()
    assert lines and lines[0] == "#EXTM3U", lines[:1]
    tags: dict[str, str] = {}
    segments: list[SegmentEntry] = []
    current: SegmentEntry | None = None
    reports: list[dict[str, str]] = []
    msn = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if msn is None and "EXT-X-MEDIA-SEQUENCE" in tags:
            msn = int(tags["EXT-X-MEDIA-SEQUENCE"])
        if current is None and msn is not None and name in (
                "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-PART", "#EXTINF"):
            current = SegmentEntry(msn, None)
            segments.append(current)
        if name == "#EXT-X-PROGRAM-DATE-TIME":
            assert current is not None
            current.program_date_time = datetime.fromisoformat(value)
        elif name == "#EXT-X-PART":
            assert current is not None
            found = attributes(value)
            current.parts.append(PartEntry(current.msn, len(current.parts),
                                           float(found["DURATION"]), found["URI"],
                                           found.get("INDEPENDENT") == "YES"))
        elif name == "#EXTINF":
            assert current is not None
            current.duration = float(value.split(",")[0])
        elif line and not line.startswith("#"):
            assert current is not None and current.duration is not None, line
            current.uri = line
            current, msn = None, (msn or 0) + 1
        elif name == "#EXT-X-RENDITION-REPORT":
            reports.append(attributes(value))
        elif line.startswith("#"):
            tags[name[1:]] = value
    return Playlist(tags, segments, reports)


@dataclass
class VariantEntry:
    attributes: dict[str, str]    # of its EXT-X-STREAM-INF
    uri: str


@dataclass
class Multivariant:
    tags: dict[str, str]
    variants: list[VariantEntry]
    comments: list[str]           # `#` lines that are no tags


def parse_multivariant(text: str) -> Multivariant:
    lines = text.splitlines()
    assert lines and lines[0] == "#EXTM3U", lines[:1]
    tags: dict[str, str] = {}
    variants: list[VariantEntry] = []
    comments: list[str] = []
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            assert pending is None, "two EXT-X-STREAM-INF without a URI between"
            pending = attributes(line.partition(":")[2])
        elif line.startswith("#EXT"):
            name, _, value = line[1:].partition(":")
            tags[name] = value
        elif line.startswith("#"):
            comments.append(line[1:].strip())
        elif line:
            assert pending is not None, f"a URI without EXT-X-STREAM-INF: {line}"
            variants.append(VariantEntry(pending, line))
            pending = None
    assert pending is None, "EXT-X-STREAM-INF without a URI"
    return Multivariant(tags, variants, comments)
