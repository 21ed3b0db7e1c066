"""A camera's rendition ladder: the streams it sends, passed through (no CPU), then the
transcoded rungs below the smallest of them. Best first, as `abr.AbrState` takes them.

A transcoded rung costs an encoder per camera while someone watches it; `RungBudget` caps
what software encoding may take (pixels per second, the encoders' cost measure), so a box
with no hardware encoder never starves its recording. A rung over the budget is listed as
unavailable with the reason, for the page to show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# (name, width, height, kbit/s): the rungs the issue names, below any camera's sub stream
TRANSCODED = (("360p", 640, 360, 500), ("240p", 426, 240, 250))
RUNG_NAMES = tuple(name for name, *_ in TRANSCODED)  # their hub streams' names too
# Transcoded rungs run at most this rate: a viewer stepped down still sees smooth motion
# (the floor is 20 fps shown; 15 failed it by design), and at these sizes fewer
# frames would save little bit rate
RUNG_FPS = 25


@dataclass(frozen=True)
class Shape:
    """A stream the camera sends: its size and, where known, bit rate (kbit/s) and fps."""

    width: int
    height: int
    kbps: int | None = None
    fps: float | None = None


@dataclass(frozen=True)
class Rung:
    name: str
    width: int
    height: int
    kbps: int
    source: str            # the camera stream it comes from ("main", "sub")
    transcoded: bool
    unavailable: str = ""  # why it cannot be had now ("" : it can)

    @property
    def pixels_per_s(self) -> int:
        return self.width * self.height * RUNG_FPS if self.transcoded else 0


def estimated_kbps(shape: Shape) -> int:
    """A stream's rate when the camera does not say: ~0.07 bit per pixel per frame (H.264
    at a camera's usual quality), the estimate the encoders' targets use too."""
    if shape.kbps:
        return shape.kbps
    return max(100, round(shape.width * shape.height * (shape.fps or 25) * 0.07 / 1000))


def ladder(main: Shape, sub: Shape | None = None,
           transcoded: Iterable[tuple[str, int, int, int]] = TRANSCODED) -> list[Rung]:
    """Main, sub, then each transcoded rung smaller than the smallest stream sent (made from
    that smallest stream: the least to decode); ordered by bit rate, best first."""
    rungs = [Rung("main", main.width, main.height, estimated_kbps(main), "main", False)]
    smallest, source = main, "main"
    if sub is not None and sub.width * sub.height < main.width * main.height:
        rungs.append(Rung("sub", sub.width, sub.height, estimated_kbps(sub), "sub", False))
        smallest, source = sub, "sub"
    floor = min(r.kbps for r in rungs)
    for name, width, height, kbps in transcoded:
        if width * height < smallest.width * smallest.height and kbps < floor:
            rungs.append(Rung(name, width, height, kbps, source, True))
    return sorted(rungs, key=lambda r: r.kbps, reverse=True)


@dataclass
class RungBudget:
    """Software-encoded rungs running at once, as pixels per second, across all cameras."""

    max_pixels_per_s: int
    running: dict[tuple[str, str], int] = field(default_factory=dict)

    def admit(self, camera: str, rung: Rung, hardware: bool) -> str:
        """"" and the rung counted, or why not. Hardware rungs are not counted here (the
        encoder's own probe and fallback govern them)."""
        reason = self.refusal(camera, rung, hardware)
        if not reason and rung.transcoded and not hardware:
            self.running[(camera, rung.name)] = rung.pixels_per_s
        return reason

    def refusal(self, camera: str, rung: Rung, hardware: bool) -> str:
        """Why `admit` would refuse the rung now ("": it would not); counts nothing."""
        if not rung.transcoded or hardware or (camera, rung.name) in self.running:
            return ""
        used = sum(self.running.values())
        if used + rung.pixels_per_s > self.max_pixels_per_s:
            return (f"over the software encoding budget ({used + rung.pixels_per_s:,} of "
                    f"{self.max_pixels_per_s:,} pixels/s)")
        return ""

    def release(self, camera: str, rung: str) -> None:
        self.running.pop((camera, rung), None)
