"""Extra WHEP viewers that receive and count frames but do not decode them.

The benchmark's second load: the box under test does exactly what it does for a browser
(ICE, DTLS, SRTP, RTP, RTCP feedback, one session each), while the client side stays as
cheap as it can on the same 2-core machine. aiortc always hands received frames to a
decoder thread; here that decoder is replaced, in this process only, by one that counts
complete frames and drops them.

Run as ``python -m nvr_edge_testing.bench.live.load --base URL --camera ID --viewers N --status F``
with the token in ``$NVR_BENCH_TOKEN`` (argv is visible to every local user). Every second
it rewrites F with ``{"time": t, "frames": [per viewer]}``; SIGTERM ends it, each session
DELETEd.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiortc.rtcrtpreceiver
from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from nvr_edge_web.webrtc import ice

TOKEN_ENV = "NVR_BENCH_TOKEN"


class CountingDecoder:
    """Stands in for aiortc's H.264 decoder: counts whole frames, returns no picture."""

    instances: list[CountingDecoder] = []

    def __init__(self) -> None:
        self.frames = 0
        CountingDecoder.instances.append(self)

    def decode(self, _encoded_frame: Any) -> list[Any]:
        self.frames += 1
        return []


def _counting_decoder(_codec: Any) -> CountingDecoder:
    return CountingDecoder()


def h264_offerer() -> tuple[RTCPeerConnection, RTCRtpTransceiver]:
    """A receive-only peer that offers H.264 only, with no STUN server (aiortc's default
    asks one on the internet)."""
    pc = RTCPeerConnection(ice.no_ice_servers())
    transceiver = pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs
         if c.mimeType.lower() in ("video/h264", "video/rtx")])
    return pc, transceiver


async def open_viewer(http: aiohttp.ClientSession, base: str, camera: str, token: str
                      ) -> tuple[RTCPeerConnection, str]:
    pc, _ = h264_offerer()
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(f"{base}/live/{camera}/whep", data=pc.localDescription.sdp,
                         headers={"Content-Type": "application/sdp",
                                  "Authorization": f"Bearer {token}"}) as reply:
        body = await reply.text()
        if reply.status != 201:
            await pc.close()
            raise RuntimeError(f"WHEP POST answered {reply.status}: {body[:200]}")
        location = reply.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
    return pc, location


async def run(base: str, camera: str, viewers: int, status: Path, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    sessions: list[tuple[RTCPeerConnection, str]] = []
    async with aiohttp.ClientSession() as http:
        try:
            for _ in range(viewers):
                sessions.append(await open_viewer(http, base, camera, token))
            while not stop.is_set():
                frames = [d.frames for d in CountingDecoder.instances]
                temporary = status.with_suffix(".tmp")
                temporary.write_text(json.dumps({"time": time.monotonic(), "frames": frames}))
                temporary.replace(status)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            for pc, location in sessions:
                async with http.delete(base + location,
                                       headers={"Authorization": f"Bearer {token}"}):
                    pass
                await pc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--camera", required=True)
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--status", type=Path, required=True)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    if not token:
        parser.error(f"${TOKEN_ENV} must hold a view token")
    ice.offer_addresses(("127.0.0.1",))  # loopback only, like the box in the benchmark
    aiortc.rtcrtpreceiver.get_decoder = _counting_decoder  # type: ignore[assignment]
    asyncio.run(run(args.base, args.camera, args.viewers, args.status, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
