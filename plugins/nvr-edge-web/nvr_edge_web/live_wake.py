"""Waking a camera's live stream before answering: a camera whose live stream starts on
demand has none until someone subscribes, and what a live route answers (WHEP's rung, the
multivariant playlist's ladder) depends on that stream's parameters."""

from __future__ import annotations

import asyncio
import contextlib

from nvr_edge import LiveRelay, LiveViewer

STREAM_WAIT_S = 5.0  # an on-demand camera's RTSP connection (measured ~1.3 s)


async def wake_stream(hub: LiveRelay, camera: str) -> LiveViewer | None:
    """Subscribe, and wait (≤ STREAM_WAIT_S) for the camera's live stream; None when it is
    already there. The caller unsubscribes the viewer once its own holds the stream."""
    if (hub.stats().get(camera) or {}).get("has_stream"):
        return None
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def notify() -> None:  # from the hub thread
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(changed.set)

    viewer = hub.subscribe(camera, notify)
    deadline = loop.time() + STREAM_WAIT_S
    while viewer.info is None and not viewer.closed and loop.time() < deadline:
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), deadline - loop.time())
    return viewer
