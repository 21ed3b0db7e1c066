"""The clock face: the wall-clock time painted into a video frame, machine-readable.

For glass-to-glass latency: the simulated camera paints the moment it captures a frame,
a viewer reads it back from the frame it shows and compares with its own clock (same
machine, same clock). The pattern survives H.264 at any sane bitrate:

* the frame's top two bands, each ``cell`` pixels high, are split into ``BITS`` cells of
  ``cell = width // BITS`` pixels; band 0 holds the milliseconds since the epoch modulo
  2**32, most significant bit first, white (luma 235) for 1 and black (luma 16) for 0;
* band 1 holds the same bits inverted: a reader that sees a cell equal in both bands
  (a frame torn, scaled or smeared by the encoder) rejects the reading instead of
  trusting it;
* the rest of the frame is a smooth moving diagonal pattern, so the encoder has motion
  to code without starving the bands of bits.

Readers: ``read_luma`` here (the benchmark's direct RTSP anchor) and the benchmark's
JavaScript probe (the same rules, from a canvas).

Stdlib only: the simulated camera runs it under the system interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BITS = 32
MODULUS = 1 << BITS
WHITE, BLACK, GREY = 235, 16, 128
THRESHOLD = 126  # halfway between BLACK and WHITE


def cell_size(width: int) -> int:
    return width // BITS


class ClockPainter:
    """Paints I420 frames of one size; keeps the static parts prebuilt."""

    def __init__(self, width: int, height: int) -> None:
        if width % 2 or height % 2 or cell_size(width) < 4 or height < 4 * cell_size(width):
            raise ValueError(f"a clock face cannot be painted on {width}x{height}")
        self.width, self.height = width, height
        self.cell = cell_size(width)
        self._white = bytes([WHITE]) * self.cell
        self._black = bytes([BLACK]) * self.cell
        self._pad = bytes([GREY]) * (width - BITS * self.cell)
        body_rows = height - 2 * self.cell
        # Twice the body, so a moving window over it is one slice.
        # A smooth triangle wave: motion the encoder codes cheaply, so the bits stay sharp.
        stripe = bytes(28 + abs((x % 256) - 128) * 3 // 2 for x in range(width + height))
        rows = [stripe[y:y + width] for y in range(height)]
        self._body_period = height
        self._body = b"".join(rows + rows)
        self._body_rows = body_rows
        self._chroma = bytes([128]) * (2 * (width // 2) * (height // 2))

    def paint(self, ms: int, frame_number: int) -> bytes:
        """One I420 frame showing `ms` (wall-clock milliseconds)."""
        value = ms % MODULUS
        bits = [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]
        band0 = b"".join(self._white if b else self._black for b in bits) + self._pad
        band1 = b"".join(self._black if b else self._white for b in bits) + self._pad
        start = (frame_number * 2 % self._body_period) * self.width
        body = self._body[start:start + self._body_rows * self.width]
        return band0 * self.cell + band1 * self.cell + body + self._chroma


def read_luma(pixel: Callable[[int, int], int], width: int) -> int | None:
    """The painted milliseconds (mod 2**32), or None when the bands disagree.

    `pixel(x, y)` returns the luma (0-255) at a point of the decoded frame, whose width
    is `width`; each cell is read at its centre.
    """
    cell = cell_size(width)
    if cell < 2:
        return None
    value = 0
    for i in range(BITS):
        x = i * cell + cell // 2
        bit = pixel(x, cell // 2) > THRESHOLD
        if bit == (pixel(x, cell + cell // 2) > THRESHOLD):
            return None
        value = (value << 1) | bit
    return value


def luma_of(frame: Any) -> Callable[[int, int], int]:
    """`pixel(x, y)` for read_luma, over a decoded PyAV VideoFrame's luma plane."""
    plane = frame.planes[0]
    stride, pixels = plane.line_size, bytes(plane)
    return lambda x, y: pixels[y * stride + x]


def latency_ms(painted: int, shown_ms: float) -> float:
    """`shown_ms` (wall-clock ms) minus the painted value, across the 2**32 wrap."""
    delta = (int(shown_ms) - painted) % MODULUS
    if delta >= MODULUS // 2:
        delta -= MODULUS
    return delta + (shown_ms - int(shown_ms))
