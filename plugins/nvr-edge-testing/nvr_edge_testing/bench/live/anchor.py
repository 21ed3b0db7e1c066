"""The anchor: the same clock camera read directly over RTSP and decoded by PyAV with
every buffer turned off, as close to the camera as a viewer can get. Its latency is the
camera's own (encoder, RTSP server) plus one decode: what the relay adds is the
difference."""

from __future__ import annotations

import time
from typing import Any

import av
from nvr_edge_testing.simcam.clockface import latency_ms, luma_of, read_luma

from .stats import summary

LOW_DELAY = {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay",
             "max_delay": "0", "timeout": "5000000"}


def direct_rtsp_latency(url: str, seconds: float, warmup_s: float = 1.0) -> dict[str, Any]:
    """Latency from the painted capture time to the end of the decode, for every frame
    decoded in a `seconds` window after `warmup_s`."""
    samples: list[float] = []
    unreadable = frames = 0
    with av.open(url, options=LOW_DELAY, timeout=10) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # frame threading would hold frames back
        started = time.monotonic()
        for frame in container.decode(stream):
            decoded_ms = time.time() * 1000
            elapsed = time.monotonic() - started
            if elapsed < warmup_s:
                continue
            if elapsed >= warmup_s + seconds:
                break
            painted = read_luma(luma_of(frame), frame.width)
            frames += 1
            if painted is None:
                unreadable += 1
            else:
                samples.append(latency_ms(painted, decoded_ms))
        size = (stream.codec_context.width, stream.codec_context.height)
    return {"what": "direct RTSP/TCP to PyAV decode, no relay, no buffering",
            "size": list(size), "frames": frames, "unreadable": unreadable,
            "fps": round(frames / seconds, 1), "latency_ms": summary(samples)}
