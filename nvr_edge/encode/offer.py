"""What an encoder plugin offers and what an opened encoder does."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import av


class Engine(enum.StrEnum):
    SOFTWARE = "software"
    V4L2M2M = "v4l2m2m"
    VAAPI = "vaapi"
    RKMPP = "rkmpp"


@dataclass(frozen=True)
class EncodeTarget:
    """What the user of an encoder wants out: H.264 at this size, rate and bitrate."""

    width: int
    height: int
    fps: int = 25
    bitrate_kbps: int = 2000
    gop_s: float = 2.0

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.fps * self.gop_s))


@dataclass(frozen=True)
class EncodedPacket:
    """One H.264 access unit, Annex B, parameter sets in band before each keyframe."""

    data: bytes
    pts: int | None
    keyframe: bool


class FrameEncoder(Protocol):
    """An opened encoder. `encode` may return nothing yet (encoder latency); it raises
    `EncoderError` when the encoder broke."""

    def encode(self, frame: av.VideoFrame, force_keyframe: bool = False
               ) -> list[EncodedPacket]: ...

    def flush(self) -> list[EncodedPacket]: ...

    def close(self) -> None: ...


class EncoderError(Exception):
    """An encoder could not open, broke, or stopped producing."""


# Opens the encoder for a target. Module-level functions (or partials of them) only: the
# probe pickles the offer into a child process.
Opener = Callable[["EncoderOffer", EncodeTarget], FrameEncoder]


@dataclass(frozen=True)
class EncoderOffer:
    """An encoder a plugin offers through `nvr_encoders`.

    `name` is unique (first offer wins), `priority` orders offers of the same standing
    (higher first; software always ranks last), `device` is the node the engine needs
    (None for software), `options` the engine's settings (profile, pixel format ...)."""

    name: str
    engine: Engine
    open: Opener
    device: str | None = None
    priority: int = 0
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def software(self) -> bool:
        return self.engine is Engine.SOFTWARE
