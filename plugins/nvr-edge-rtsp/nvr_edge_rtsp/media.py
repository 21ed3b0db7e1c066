"""One client's media: live packets to interleaved RTP, and the slow-client policy.

Policy (a client must never slow the others, the hub or the camera): what a client has
not read waits in its transport's buffer. Over `max_buffer_bytes`, the packet is dropped
and so is the rest of its GOP; the client resumes at the next keyframe that finds the
buffer under the limit again (with the parameter sets in front), so it never decodes a
frame whose reference it lost. A client over the limit for `stall_timeout_s` is
disconnected.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from nvr_edge import LivePacket, StreamInfo

from .nal import H265, is_parameter_set, nal_type, parameter_sets, split_packet
from .outputs import TrackOut
from .rtp import RtpStream, aac_payload, fragment
from .sdp import AUDIO_PT, VIDEO_CLOCK, VIDEO_PT

SR_INTERVAL_S = 2.0


@dataclass
class SendPolicy:
    max_buffer_bytes: int
    stall_timeout_s: float


class MediaSender:
    """`outs`: per track (0 video, 1 audio) where its packets go; their backlog is the
    client's."""

    def __init__(self, info: StreamInfo, outs: dict[int, TrackOut],
                 policy: SendPolicy) -> None:
        self.info, self.outs, self.policy = info, outs, policy
        self.codec = info.video_codec
        self.sets, self.length_size = parameter_sets(self.codec, info.video_extradata)
        ssrc = random.getrandbits(32)
        self.video = RtpStream(VIDEO_PT, VIDEO_CLOCK, ssrc, ts_offset=random.getrandbits(32),
                               seq=random.getrandbits(15))
        self.audio: RtpStream | None = None
        if 1 in outs:
            self.audio = RtpStream(AUDIO_PT, info.sample_rate, ssrc ^ 1,
                                   ts_offset=random.getrandbits(32), seq=random.getrandbits(15))
        self.send_video = 0 in outs
        self.waiting_keyframe = True
        self.over_since: float | None = None
        self.anchor: tuple[float, float] | None = None  # (pts s, wall s) of the first frame
        self.last_report = 0.0
        self.bytes_out = self.packets_out = self.dropped = self.gops_dropped = 0
        self.stalled: str | None = None  # why this client must be disconnected

    def rtp_info(self, base_url: str) -> str:
        parts = []
        for track, stream in ((0, self.video if self.send_video else None), (1, self.audio)):
            if stream is not None:
                parts.append(f"url={base_url}/trackID={track};seq={stream.seq}")
        return ",".join(parts)

    def send(self, packet: LivePacket, now: float) -> None:
        if self.stalled:
            return
        if self.buffered() > self.policy.max_buffer_bytes:
            if self.over_since is None:
                self.over_since = now
                self.gops_dropped += 1
            elif now - self.over_since > self.policy.stall_timeout_s:
                self.stalled = (f"stalled: read nothing of {self.buffered()} queued bytes "
                                f"for {self.policy.stall_timeout_s:.0f} s")
            self.waiting_keyframe = True
            self.dropped += 1
            return
        self.over_since = None
        if packet.audio:
            if self.audio is not None and not self.waiting_keyframe:
                self._audio(packet)
            return
        if self.waiting_keyframe:
            if not packet.keyframe:
                self.dropped += 1
                return
            self.waiting_keyframe = False
        if self.send_video:
            self._video(packet)
        if now - self.last_report >= SR_INTERVAL_S:
            self.last_report = now
            self._reports()

    def _wall(self, seconds: float) -> float:
        if self.anchor is None:
            self.anchor = (seconds, time.time())
        return self.anchor[1] + seconds - self.anchor[0]

    def _video(self, packet: LivePacket) -> None:
        nals = split_packet(packet.data, self.length_size)
        if packet.keyframe and self.sets and \
                not any(is_parameter_set(self.codec, n) for n in nals):
            nals = self.sets + nals  # a client joining here needs them in band
        nals = [n for n in nals if not _is_aud(self.codec, n)]
        seconds = packet.pts_s if packet.pts_s is not None else 0.0
        ts = self.video.timestamp(seconds)
        self.video.last_wall = self._wall(seconds)
        out = []
        for i, nal in enumerate(nals):
            payloads = list(fragment(self.codec, nal))
            for j, payload in enumerate(payloads):
                last = i == len(nals) - 1 and j == len(payloads) - 1
                out.append(self.video.packet(payload, ts, last))
        self._send(0, out)

    def _audio(self, packet: LivePacket) -> None:
        assert self.audio is not None
        seconds = packet.pts_s if packet.pts_s is not None else 0.0
        if self.anchor is None:
            return  # audio waits for the first video frame: one shared clock anchor
        self.audio.last_wall = self._wall(seconds)
        ts = self.audio.timestamp(seconds)
        self._send(1, [self.audio.packet(aac_payload(packet.data), ts, True)])

    def buffered(self) -> int:
        return sum(out.buffered() for out in self.outs.values())

    def _reports(self) -> None:
        for track, stream in ((0, self.video), (1, self.audio)):
            if stream is not None and stream.last_ts is not None and track in self.outs:
                report = stream.sender_report()
                self.outs[track].rtcp(report)
                self.bytes_out += len(report)

    def _send(self, track: int, packets: list[bytes]) -> None:
        self.outs[track].rtp(packets)
        self.bytes_out += sum(len(p) for p in packets)
        self.packets_out += len(packets)


def _is_aud(codec: str, nal: bytes) -> bool:
    return nal_type(codec, nal) == (35 if codec == H265 else 9)
