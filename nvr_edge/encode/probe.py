"""Probe an offer by test-encoding a short synthetic clip in a child process: at least
one keyframe must come out and decode back at the target size. The child may crash,
hang or abort (a driver's bug): the parent only waits `timeout_s` and reads the verdict."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from nvr_edge.encode.offer import EncoderError, EncoderOffer, EncodeTarget

PROBE_SECONDS = 1.0


@dataclass(frozen=True)
class ProbeResult:
    name: str
    engine: str
    ok: bool
    reason: str                   # "ok", or why not
    seconds: float                # the whole probe, child start to verdict
    first_packet_s: float | None  # encoder open to its first packet
    at_ms: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encode_and_check(offer: EncoderOffer, target: EncodeTarget) -> tuple[str, float | None]:
    """In the child: the verdict ("ok" or why not) and the time to the first packet."""
    import av

    from nvr_edge.encode.synthetic import frames

    started = time.monotonic()
    first: float | None = None
    packets = []
    if offer.device and not os.path.exists(offer.device):
        return f"no device node {offer.device}", None
    encoder = offer.open(offer, target)
    try:
        count = max(2, round(target.fps * PROBE_SECONDS))
        for frame in frames(target.width, target.height, count):
            got = encoder.encode(frame)
            if got and first is None:
                first = time.monotonic() - started
            packets += got
        packets += encoder.flush()
    finally:
        encoder.close()
    if first is None and packets:
        first = time.monotonic() - started
    if not any(p.keyframe for p in packets):
        return f"no keyframe in {len(packets)} packet(s)", first
    decoder = av.CodecContext.create("h264", "r")
    decoded = []
    for p in packets:
        decoded += decoder.decode(av.Packet(p.data))
    decoded += decoder.decode(None)
    if not decoded:
        return f"none of {len(packets)} packet(s) decoded", first
    size = (decoded[0].width, decoded[0].height)
    if size != (target.width, target.height):
        return f"decoded at {size[0]}x{size[1]}, not {target.width}x{target.height}", first
    return "ok", first


def _child(offer: EncoderOffer, target: EncodeTarget, conn: Connection) -> None:
    try:
        conn.send(_encode_and_check(offer, target))
    except EncoderError as exc:
        conn.send((str(exc), None))
    except Exception as exc:  # the verdict, not a traceback on the box's console
        conn.send((f"{type(exc).__name__}: {exc}", None))


def probe(offer: EncoderOffer, target: EncodeTarget, timeout_s: float = 20.0) -> ProbeResult:
    from nvr_edge.models import now_ms

    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")  # no inherited threads or locks
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(offer, target, child), daemon=True,
                          name=f"encoder-probe-{offer.name}")
    verdict: tuple[str, float | None] | None = None
    killed = False
    try:
        process.start()
        child.close()
        if parent.poll(timeout_s):
            with contextlib.suppress(EOFError):  # the child died before it answered
                verdict = parent.recv()
        process.join(timeout=max(0.0, timeout_s - (time.monotonic() - started)))
    finally:
        if process.is_alive():
            killed = True
            process.kill()
            process.join()
        parent.close()
    if verdict is None:
        if killed:
            reason = f"timed out after {timeout_s:g} s"
        elif process.exitcode < 0:
            reason = f"crashed: {signal.Signals(-process.exitcode).name}"
        else:
            reason = f"the probe process exited with code {process.exitcode}"
    else:
        reason = verdict[0]
    return ProbeResult(offer.name, str(offer.engine), reason == "ok", reason,
                       round(time.monotonic() - started, 3),
                       None if verdict is None or verdict[1] is None
                       else round(verdict[1], 3), now_ms())
