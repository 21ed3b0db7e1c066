"""The LL-HLS media playlist (RFC 8216bis, Apple's LL-HLS): segments with their
EXT-X-PROGRAM-DATE-TIME, the parts of the last few, and a preload hint for the next part.

Every URI carries the request's `?token=`: a player resolves the URIs against the
playlist's URL but does not carry its query over, and without it each fetch is a 401.

A rung's media playlist ends with an EXT-X-RENDITION-REPORT for each other rung of the
camera being packaged now (its last part), so a player switching to it can ask for that
part at once (a blocking reload) instead of loading its playlist cold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from .window import PART_SEGMENTS, Part, Window

VERSION = 6              # EXT-X-MAP in a media playlist with fMP4
# PART-HOLD-BACK: at least 2 part targets, 3 recommended; 2 measured worse with hls.js
# (1.8 s behind the edge instead of 0.8-1.0: it stalls and rebuffers)
HOLD_BACK_PARTS = 3


def segment_uri(msn: int) -> str:
    return f"seg{msn}.m4s"


def part_uri(number: int) -> str:
    return f"part{number}.m4s"


def init_uri(discontinuity_sequence: int) -> str:
    """A new name for each stream's init segment: a player or cache holding the old one
    (served with max-age) must not apply it to the new stream's media."""
    return f"init{discontinuity_sequence}.mp4"


def token_query(token: str | None) -> str:
    return "" if token is None else "?token=" + quote(token, safe="")


def render(window: Window, part_target_s: float, token: str | None,
           reports: Sequence[tuple[str, Part]] = ()) -> str:
    """`reports`: (rung, its last part) of the other rungs, for the rendition reports."""
    query = token_query(token)
    segments = list(window.segments)
    target = max(1, math.ceil(max([window.max_segment_s, *(s.duration for s in segments)])))
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", f"#EXT-X-TARGETDURATION:{target}",
             "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
             f"PART-HOLD-BACK={HOLD_BACK_PARTS * part_target_s:.3f}",
             f"#EXT-X-PART-INF:PART-TARGET={part_target_s:.3f}",
             f"#EXT-X-MEDIA-SEQUENCE:{segments[0].msn if segments else window.next_msn}",
             "#EXT-X-INDEPENDENT-SEGMENTS"]
    if window.discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{window.discontinuity_sequence}")
    lines.append(f'#EXT-X-MAP:URI="{init_uri(window.discontinuity_sequence)}{query}"')
    with_parts = {s.msn for s in segments[-PART_SEGMENTS - 1:]}  # the open one and 3 more
    for segment in segments:
        stamp = datetime.fromtimestamp(segment.wall_start, UTC)
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp.isoformat(timespec='milliseconds')}")
        if segment.msn in with_parts:
            lines.extend(f'#EXT-X-PART:DURATION={p.duration:.5f},URI="{part_uri(p.number)}'
                         f'{query}"' + (",INDEPENDENT=YES" if p.independent else "")
                         for p in segment.parts)
        if segment.complete:
            lines += [f"#EXTINF:{segment.duration:.5f},", segment_uri(segment.msn) + query]
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{part_uri(window.next_part)}{query}"')
    lines += [f'#EXT-X-RENDITION-REPORT:URI="../{rung}/index.m3u8{query}",'
              f"LAST-MSN={part.msn},LAST-PART={part.index}" for rung, part in reports]
    return "\n".join(lines) + "\n"
