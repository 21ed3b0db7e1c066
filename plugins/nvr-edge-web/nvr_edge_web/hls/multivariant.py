"""The multivariant playlist over a camera's rungs: one EXT-X-STREAM-INF per rung LL-HLS can
serve now (its peak bit rate, size and, once the stream was seen, its codec), each naming
that rung's media playlist; the player (hls.js) chooses among them by its throughput.

Audio: the transcoded rungs carry none, and a player switching between variants with and
without an audio track stalls on the missing one. So when the live view's stream has AAC,
every variant names one AUDIO group whose single rendition (`audio/index.m3u8`) is that
stream's audio alone, packaged beside the rungs on the same timeline (Apple's authoring
spec's demuxed audio; hls.js and Safari play it).

A rung left out is named with the reason on a comment line (players ignore `#` lines that
are no tags), the same reason `/api/cameras` gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nvr_edge import StreamInfo

from ..webrtc.h264 import NAL_SPS, nal_type, parse_extradata
from .playlist import VERSION, token_query
from .registry import AUDIO

AUDIO_GROUP = "audio"


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


def mp4a_codec(info: StreamInfo | None) -> str | None:
    """`mp4a.40.` + the AAC object type of a stream the audio rendition can carry (AAC
    with its AudioSpecificConfig), else None: no audio rendition."""
    if info is None or info.audio_codec != "aac" or not info.audio_extradata \
            or info.sample_rate <= 0:
        return None
    return f"mp4a.40.{info.audio_extradata[0] >> 3}"


def render_multivariant(variants: list[Variant], token: str | None,
                        left_out: Sequence[tuple[str, str]] = (),
                        audio: str | None = None) -> str:
    """`variants` in the order a player should try them (the first is where it starts);
    `left_out`: (rung, why) for the comment lines; `audio`: the audio rendition's codec
    (mp4a_codec), None for none."""
    query = token_query(token)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [f"# rung {name} not listed: {' '.join(why.split())}" for name, why in left_out]
    if audio:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="camera",'
                     f'DEFAULT=YES,AUTOSELECT=YES,URI="{AUDIO}/index.m3u8{query}"')
    for variant in variants:
        codecs = ",".join(c for c in (variant.codecs, audio) if c)
        # CODECS lists every codec of the variant or is left out (the video's not known yet)
        listed = f',CODECS="{codecs}"' if variant.codecs else ""
        group = f',AUDIO="{AUDIO_GROUP}"' if audio else ""
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={variant.kbps * 1000},"
                  f"RESOLUTION={variant.width}x{variant.height}{listed}{group}",
                  f"{variant.name}/index.m3u8{query}"]
    return "\n".join(lines) + "\n"
