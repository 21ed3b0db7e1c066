"""Probe an offer by test-encoding a short synthetic clip in a child process: at least
one keyframe must come out and decode back at the target size. The child may crash,
hang or abort (a driver's bug): the parent only waits and reads the verdict.

Two bounds: `startup_timeout_s` for the child to start Python and import PyAV (it says
when it is ready), then `timeout_s` for the encode itself. One bound for both would let a
slow start (a board's SD card, an emulator: tens of seconds) fail a good encoder."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from nvr_edge.encode.offer import EncoderError, EncoderOffer, EncodeTarget

PROBE_SECONDS = 1.0
READY = "ready"  # the child's first message: imported, about to open the encoder
STARTUP, ENCODE = "startup", "encode"  # the bound a probe timed out on


@dataclass(frozen=True)
class ProbeResult:
    name: str
    engine: str
    ok: bool
    reason: str                   # "ok", or why not
    seconds: float                # the whole probe, child start to verdict
    first_packet_s: float | None  # encoder open to its first packet
    at_ms: int
    startup_s: float | None = None  # child start to ready (None: it never was)
    timed_out: str | None = None    # STARTUP or ENCODE: the bound that was hit
    via: str = ""                   # how a hardware engine runs: "pyav" in process, else ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encode_and_check(offer: EncoderOffer, target: EncodeTarget) -> tuple[str, float | None]:
    """In the child: the verdict ("ok" or why not) and the time to the first packet."""
    import av

    from nvr_edge.encode.synthetic import frames

    started = time.monotonic()
    first: float | None = None
    packets = []
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
        import av  # noqa: F401  # the start-up the parent's first bound covers

        from nvr_edge.encode import synthetic  # noqa: F401

        conn.send(READY)
        conn.send(_encode_and_check(offer, target))
    except EncoderError as exc:
        conn.send((str(exc), None))
    except Exception as exc:  # the verdict, not a traceback on the box's console
        conn.send((f"{type(exc).__name__}: {exc}", None))


def _receive(conn: Connection, timeout_s: float) -> tuple[object, bool]:
    """(message, True), (None, True) when the child died first, (None, False) at timeout."""
    if not conn.poll(timeout_s):
        return None, False
    try:
        return conn.recv(), True
    except EOFError:
        return None, True


def probe(offer: EncoderOffer, target: EncodeTarget, timeout_s: float = 20.0,
          startup_timeout_s: float = 300.0) -> ProbeResult:
    """The verdict on `offer`: the child gets `startup_timeout_s` to be ready, then
    `timeout_s` to encode and check; past either it is killed."""
    from nvr_edge.models import now_ms

    started = time.monotonic()
    if offer.device and not os.path.exists(offer.device):  # no child for a missing node
        return ProbeResult(offer.name, str(offer.engine), False,
                           f"no device node {offer.device}", 0.0, None, now_ms(),
                           via=offer.options.get("via", ""))
    ctx = multiprocessing.get_context("spawn")  # no inherited threads or locks
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(offer, target, child), daemon=True,
                          name=f"encoder-probe-{offer.name}")
    verdict: tuple[str, float | None] | None = None
    startup_s: float | None = None
    timed_out: str | None = None
    try:
        process.start()
        child.close()
        message, answered = _receive(parent, startup_timeout_s)
        if answered and message == READY:
            startup_s = time.monotonic() - started
            message, answered = _receive(parent, timeout_s)
            timed_out = None if answered else ENCODE
        elif not answered:
            timed_out = STARTUP
        if answered:  # it is exiting: its exit code tells a crash from an exit
            process.join(timeout=timeout_s)
        if isinstance(message, tuple):  # a verdict, or why the child could not start
            verdict = message
    finally:
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
    if verdict is not None:
        reason = verdict[0]
    elif timed_out == STARTUP:
        reason = f"not ready within {startup_timeout_s:g} s (start-up: Python and PyAV)"
    elif timed_out == ENCODE:
        reason = f"timed out after {timeout_s:g} s (encoding, after a {startup_s:.1f} s start-up)"
    elif process.exitcode is not None and process.exitcode < 0:
        reason = f"crashed: {signal.Signals(-process.exitcode).name}"
    else:
        reason = f"the probe process exited with code {process.exitcode}"
    return ProbeResult(offer.name, str(offer.engine), reason == "ok", reason,
                       round(time.monotonic() - started, 3),
                       None if verdict is None or verdict[1] is None
                       else round(verdict[1], 3), now_ms(),
                       None if startup_s is None else round(startup_s, 3), timed_out,
                       offer.options.get("via", ""))
