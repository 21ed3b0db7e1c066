"""A WHEP viewer in Python: aiortc receives the live H.264 and decodes it (PyAV), so the
test sees real pictures, not just packets."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
from aiortc import RTCSessionDescription
from nvr_edge_testing.bench.live.load import h264_offerer


@dataclass
class Viewing:
    status: int
    location: str | None = None
    answer: str = ""
    error: str = ""
    frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    first_frame_s: float | None = None  # from the POST to the first decoded frame
    watched_s: float = 0.0              # from the first decoded frame to the last


async def watch(base: str, camera: str, token: str, seconds: float,
                delete: bool = True) -> Viewing:
    """POST an offer, decode frames for `seconds`, then DELETE the session."""
    pc, transceiver = h264_offerer()
    await pc.setLocalDescription(await pc.createOffer())
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/live/{camera}/whep", data=pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp",
                                      "Authorization": f"Bearer {token}"}) as reply:
            body = await reply.text()
            seen = Viewing(reply.status, reply.headers.get("Location"))
        if seen.status != 201:
            seen.error = body
            await pc.close()
            return seen
        seen.answer = body
        await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
        track = transceiver.receiver.track  # type: ignore[attr-defined]
        first = last = 0.0
        try:
            async with asyncio.timeout(seconds + 10):
                while not first or last - first < seconds:
                    frame = await track.recv()
                    last = time.monotonic()
                    if not first:
                        first = last
                        seen.first_frame_s = first - started
                    seen.frames += 1
                    seen.sizes.add((frame.width, frame.height))
        finally:
            seen.watched_s = last - first if first else 0.0
            if delete and seen.location:
                async with http.delete(base + seen.location,
                                       headers={"Authorization": f"Bearer {token}"}) as end:
                    seen.error = "" if end.status in (200, 204) else f"DELETE {end.status}"
            await pc.close()
    return seen
