"""What a viewer's RTCP feedback says that aiortc keeps to itself: the receiver's
bandwidth estimate (REMB) and its requests for a picture (PLI, FIR).

aiortc's sender feeds REMB only to its own encoder (clamped to 0.5-3 Mbit/s; a passed-
through stream has none) and turns a PLI into "encode the next frame as a keyframe", which
a passed-through packet cannot honour; neither is in `getStats()`. Every RTCP packet for a
sender goes through its `_handle_rtcp_packet` (aiortc 1.16, pinned): `listen` puts a look
in front of it on that one sender, and passes every packet on unchanged.

Chromium sends REMB when the answer offers `goog-remb` with the abs-send-time header
extension and no transport-wide congestion control (aiortc's answer): its delay-based
estimate falls as soon as a queue builds on the path, before packets are lost, and it
sends a new REMB at once when the estimate drops."""

from __future__ import annotations

import contextlib
import struct
import time
from dataclasses import dataclass
from typing import Any

from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket, unpack_remb_fci


@dataclass
class Feedback:
    """The last estimate (bit/s, None: none yet) and when it came; pictures asked for."""

    estimate_bps: int | None = None
    estimate_at: float = 0.0  # time.monotonic(), which is also the event loop's clock
    estimates: int = 0
    pictures_asked: int = 0

    def estimate_kbps(self, now: float, max_age_s: float) -> float | None:
        """The estimate, while it is fresh (a receiver that stopped sending it: None)."""
        if self.estimate_bps is None or now - self.estimate_at > max_age_s:
            return None
        return self.estimate_bps / 1000


def listen(sender: Any, feedback: Feedback) -> None:
    """Note every REMB addressed to `sender`'s stream and every PLI/FIR in `feedback`."""
    handle = sender._handle_rtcp_packet

    async def look(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt == RTCP_PSFB_APP:
                # an APP packet that is not REMB, or a REMB cut short (struct.error)
                with contextlib.suppress(ValueError, struct.error):
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    if sender._ssrc in ssrcs:
                        feedback.estimate_bps, feedback.estimate_at = bitrate, time.monotonic()
                        feedback.estimates += 1
            elif packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                feedback.pictures_asked += 1
        await handle(packet)

    sender._handle_rtcp_packet = look
