"""An encoder plugin module that is slow to import in a probe's child process (a board's
slow SD card, an emulator), as long as `NVR_TEST_SLOW_START_S` says; instant in the test's
own process. Its opener is real libx264, optionally slowed per frame (`frame_s`)."""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from nvr_edge import EncodedPacket, EncoderOffer, EncodeTarget, Engine
from nvr_edge.encode.software import PyAvEncoder, open_software

ENV = "NVR_TEST_SLOW_START_S"

# imported in the probe's child while it unpickles the offer (before `parent_process()`
# is set there: the child's name, from probe.py, is already)
if multiprocessing.current_process().name.startswith("encoder-probe-"):
    time.sleep(float(os.environ.get(ENV, "0")))


class SlowX264:
    """libx264 that takes `frame_s` per frame (an encoder too slow for the probe)."""

    def __init__(self, target: EncodeTarget, frame_s: float) -> None:
        self._inner, self._frame_s = PyAvEncoder(target), frame_s

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[EncodedPacket]:
        time.sleep(self._frame_s)
        return self._inner.encode(frame, force_keyframe)

    def flush(self) -> list[EncodedPacket]:
        return self._inner.flush()

    def close(self) -> None:
        self._inner.close()


def open_x264(offer: EncoderOffer, target: EncodeTarget) -> Any:
    if "frame_s" in offer.options:
        return SlowX264(target, float(offer.options["frame_s"]))
    return open_software(offer, target)


def x264(**options: str) -> EncoderOffer:
    return EncoderOffer("slow_start_x264", Engine.SOFTWARE, open_x264, options=options)
