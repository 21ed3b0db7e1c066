"""The SDP a DESCRIBE answers: video (H.264/H.265 with its parameter sets) and, when the
live path carries AAC, audio (RFC 3640). Other codecs are not offered (`Tracks` says
which were left out)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from nvr_edge import StreamInfo

from .nal import H264, H265, nal_type, parameter_sets

VIDEO_PT, AUDIO_PT = 96, 97
VIDEO_CLOCK = 90_000
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
              8000, 7350)


@dataclass(frozen=True)
class Tracks:
    sdp: str
    audio: bool          # track 1 is AAC audio
    skipped_audio: str | None  # an audio codec the live path has that is not served


def describe(info: StreamInfo, title: str, host: str) -> Tracks:
    if info.video_codec not in (H264, H265):
        raise ValueError(f"video codec {info.video_codec!r} is not served over RTSP "
                         "(H.264 and H.265 are)")
    lines = ["v=0", f"o=- 0 0 IN IP4 {host}", f"s={title}", "c=IN IP4 0.0.0.0", "t=0 0",
             "a=control:*", "a=range:npt=now-",
             f"m=video 0 RTP/AVP {VIDEO_PT}"]
    sets, _ = parameter_sets(info.video_codec, info.video_extradata)
    if info.video_codec == H265:
        lines.append(f"a=rtpmap:{VIDEO_PT} H265/{VIDEO_CLOCK}")
        fmtp = ";".join(f"sprop-{name}={_b64(n)}" for kind, name in
                        ((32, "vps"), (33, "sps"), (34, "pps"))
                        for n in sets if nal_type(H265, n) == kind)
    else:
        lines.append(f"a=rtpmap:{VIDEO_PT} H264/{VIDEO_CLOCK}")
        sps = [n for n in sets if nal_type(H264, n) == 7]
        pps = [n for n in sets if nal_type(H264, n) == 8]
        fmtp = "packetization-mode=1"
        if sps and len(sps[0]) >= 4:
            fmtp += f";profile-level-id={sps[0][1:4].hex().upper()}"
        if sps and pps:
            fmtp += ";sprop-parameter-sets=" + ",".join(_b64(n) for n in sps + pps)
    if fmtp:
        lines.append(f"a=fmtp:{VIDEO_PT} {fmtp}")
    lines += [f"a=framesize:{VIDEO_PT} {info.width}-{info.height}", "a=control:trackID=0"]
    audio = serves_audio(info)
    if audio:
        channels = max(1, info.channels)
        config = info.audio_extradata.hex() or _aac_config(info.sample_rate, channels)
        lines += [f"m=audio 0 RTP/AVP {AUDIO_PT}",
                  f"a=rtpmap:{AUDIO_PT} MPEG4-GENERIC/{info.sample_rate}/{channels}",
                  f"a=fmtp:{AUDIO_PT} streamtype=5;profile-level-id=1;mode=AAC-hbr;"
                  f"sizelength=13;indexlength=3;indexdeltalength=3;config={config}",
                  "a=control:trackID=1"]
    skipped = info.audio_codec if info.audio_codec and not audio else None
    return Tracks("\r\n".join(lines) + "\r\n", audio, skipped)


def serves_audio(info: StreamInfo) -> bool:
    """Whether track 1 (audio) exists: AAC only."""
    return info.audio_codec == "aac" and info.sample_rate > 0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _aac_config(rate: int, channels: int) -> str:
    """An AAC-LC AudioSpecificConfig for streams that carry none (ADTS)."""
    index = _AAC_RATES.index(rate) if rate in _AAC_RATES else 4
    return f"{(2 << 11) | (index << 7) | (min(channels, 7) << 3):04x}"
