"""Fake encoders offered through `nvr_encoders`: module-level openers, because the probe
pickles offers into a child process."""

from __future__ import annotations

import os
import time
from typing import Any

from nvr_edge import EncodedPacket, EncoderError, EncoderOffer, EncodeTarget, Engine, hookimpl
from nvr_edge.encode.ffmpeg_cmd import EngineArgs
from nvr_edge.encode.software import PyAvEncoder


def open_abort(offer: EncoderOffer, target: EncodeTarget) -> Any:
    os.abort()  # a driver that takes its process down


def open_fail(offer: EncoderOffer, target: EncodeTarget) -> Any:
    raise EncoderError("device busy")


def open_hang(offer: EncoderOffer, target: EncodeTarget) -> Any:
    time.sleep(3600)


def open_wrong_size(offer: EncoderOffer, target: EncodeTarget) -> PyAvEncoder:
    return PyAvEncoder(EncodeTarget(target.width // 2, target.height // 2, target.fps))


class StallingEncoder:
    """Real libx264 output for `after` frames, then nothing (a wedged hardware queue)."""

    def __init__(self, target: EncodeTarget, after: int) -> None:
        self._inner, self._left = PyAvEncoder(target), after

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[EncodedPacket]:
        self._left -= 1
        return self._inner.encode(frame, force_keyframe) if self._left >= 0 else []

    def flush(self) -> list[EncodedPacket]:
        return []

    def close(self) -> None:
        self._inner.close()


def open_stall(offer: EncoderOffer, target: EncodeTarget) -> StallingEncoder:
    return StallingEncoder(target, int(offer.options.get("after", "5")))


OFFERS = [
    EncoderOffer("fake_abort", Engine.V4L2M2M, open_abort, priority=30),
    EncoderOffer("fake_fail", Engine.VAAPI, open_fail, priority=20),
    EncoderOffer("fake_stall", Engine.RKMPP, open_stall, priority=10,
                 options={"after": "5"}),
]


class FakeEncoders:
    @hookimpl
    def nvr_encoders(self, config: Any) -> list[EncoderOffer]:
        return OFFERS


def x264_child_args(offer: EncoderOffer) -> EngineArgs:
    """libx264 in an FFmpeg child, as the hardware engines run; `frames` ends the child
    after that many frames (a driver that gives up mid-stream)."""
    stop = ("-frames:v", offer.options["frames"]) if "frames" in offer.options else ()
    return EngineArgs("libx264", "yuv420p",
                      codec_args=("-tune", "zerolatency", "-sc_threshold", "0", *stop))
