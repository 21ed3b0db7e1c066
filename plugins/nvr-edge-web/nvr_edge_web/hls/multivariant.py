"""The multivariant playlist over a camera's rungs: one EXT-X-STREAM-INF per rung LL-HLS can
serve now (its peak bit rate, size and, once the stream was seen, its codec), each naming
that rung's media playlist; the player (hls.js) chooses among them by its throughput.

A rung left out is named with the reason on a comment line (players ignore `#` lines that
are no tags), the same reason `/api/cameras` gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..webrtc.h264 import NAL_SPS, nal_type, parse_extradata
from .playlist import VERSION, token_query


@dataclass(frozen=True)
class Variant:
    name: str            # the rung's: main, sub, 360p, 240p; its media playlist's folder
    width: int
    height: int
    kbps: int
    codecs: str | None   # RFC 6381 (avc1.PPCCLL); None while the rung's SPS is unknown


def avc1_codec(extradata: bytes) -> str | None:
    """`avc1.` + profile, constraint flags and level of the stream's first SPS."""
    sps = next((n for n in parse_extradata(extradata).nals if nal_type(n) == NAL_SPS), None)
    if sps is None or len(sps) < 4:
        return None
    return f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def render_multivariant(variants: list[Variant], token: str | None,
                        left_out: Sequence[tuple[str, str]] = ()) -> str:
    """`variants` in the order a player should try them (the first is where it starts);
    `left_out`: (rung, why) for the comment lines."""
    query = token_query(token)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [f"# rung {name} not listed: {' '.join(why.split())}" for name, why in left_out]
    for variant in variants:
        codecs = f',CODECS="{variant.codecs}"' if variant.codecs else ""
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={variant.kbps * 1000},"
                  f"RESOLUTION={variant.width}x{variant.height}{codecs}",
                  f"{variant.name}/index.m3u8{query}"]
    return "\n".join(lines) + "\n"
