"""An encoder that is an FFmpeg child process (the hardware engines, whose FFmpeg PyAV's
wheels lack). Raw frames go in on stdin, Annex B comes out on stdout. A driver that
crashes takes only the child down; a child that stops reading is noticed within
`write_timeout_s` instead of blocking the caller."""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from nvr_edge.encode.annexb import has_idr
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, ffmpeg_command
from nvr_edge.encode.offer import EncodedPacket, EncoderError, EncoderOffer, EncodeTarget, Engine

if TYPE_CHECKING:
    import av

ArgsOf = Callable[[EncoderOffer], EngineArgs]
# bytes per row of each plane, as a multiple of the width
_ROW_FACTORS = {"yuv420p": ((1, 1), (1, 2), (1, 2)), "nv12": ((1, 1), (1, 1))}


def raw_bytes(frame: av.VideoFrame, pix_fmt: str) -> bytes:
    """The frame's planes without line padding, as `-f rawvideo` reads them."""
    parts = []
    for plane, (num, den) in zip(frame.planes, _ROW_FACTORS[pix_fmt], strict=True):
        row = frame.width * num // den
        data = bytes(plane)
        if plane.line_size == row:
            parts.append(data[:row * plane.height])
        else:
            parts.extend(data[y * plane.line_size:y * plane.line_size + row]
                         for y in range(plane.height))
    return b"".join(parts)


class FfmpegProcessEncoder:
    def __init__(self, argv: Sequence[str], target: EncodeTarget, input_pix_fmt: str,
                 device: str | None = None, write_timeout_s: float = 5.0) -> None:
        import av

        if device and not os.path.exists(device):
            raise EncoderError(f"no device node {device}")
        if shutil.which(argv[0]) is None:
            raise EncoderError(f"{argv[0]} not found")
        self.target, self._pix_fmt, self._timeout = target, input_pix_fmt, write_timeout_s
        self._proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        os.set_blocking(self._proc.stdin.fileno(), False)
        self._chunks: SimpleQueue[bytes | None] = SimpleQueue()
        self._errors: deque[bytes] = deque(maxlen=20)
        self._ended = False
        self._parser = av.CodecContext.create("h264", "r")
        for target_fn, stream in ((self._read_out, self._proc.stdout),
                                  (self._read_err, self._proc.stderr)):
            threading.Thread(target=target_fn, args=(stream,), daemon=True,
                             name="encoder-child-io").start()

    def _read_out(self, stream: object) -> None:
        read = stream.read1  # type: ignore[attr-defined]
        while chunk := read(1 << 16):
            self._chunks.put(chunk)
        self._chunks.put(None)

    def _read_err(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._errors.append(line)

    def why(self) -> str:
        text = b"".join(self._errors).decode(errors="replace").strip()
        code = self._proc.poll()
        return f"exit code {code}" + (f": {text[-300:]}" if text else "") \
            if code is not None else text[-300:] or "no output"

    def encode(self, frame: av.VideoFrame, force_keyframe: bool = False
               ) -> list[EncodedPacket]:
        # force_keyframe: the child keeps its fixed GOP (-g); see hw/README.md
        t = self.target
        frame = frame.reformat(width=t.width, height=t.height, format=self._pix_fmt)
        self._write(raw_bytes(frame, self._pix_fmt))
        return self._drain()

    def _write(self, data: bytes) -> None:
        assert self._proc.stdin
        fd, view = self._proc.stdin.fileno(), memoryview(data)
        while view:
            _, ready, _ = select.select([], [fd], [], self._timeout)
            if not ready:
                raise EncoderError(f"stalled: took no input for {self._timeout:g} s")
            try:
                view = view[os.write(fd, view):]
            except (BrokenPipeError, OSError) as exc:
                self._proc.wait(timeout=2)
                raise EncoderError(f"the encoder process ended: {self.why()}") from exc

    def _drain(self, wait_s: float = 0.0) -> list[EncodedPacket]:
        out: list[EncodedPacket] = []
        while not self._ended:
            try:
                chunk = self._chunks.get(timeout=wait_s) if wait_s else \
                    self._chunks.get_nowait()
            except Empty:
                break
            if chunk is None:
                self._ended = True
                chunk = b""  # flush the parser
            out += [EncodedPacket(bytes(p), None, has_idr(bytes(p)))
                    for p in self._parser.parse(chunk)]
        return out

    def flush(self) -> list[EncodedPacket]:
        assert self._proc.stdin
        self._proc.stdin.close()
        out = []
        while not self._ended:
            got = self._drain(wait_s=self._timeout)
            if not got and not self._ended:
                raise EncoderError(f"stalled: no output for {self._timeout:g} s at the end")
            out += got
        if self._proc.wait(timeout=self._timeout):
            raise EncoderError(f"the encoder process failed: {self.why()}")
        return out

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream and not stream.closed:
                with contextlib.suppress(OSError):
                    stream.close()


def _open(args_of: ArgsOf, offer: EncoderOffer, target: EncodeTarget
          ) -> FfmpegProcessEncoder:
    engine = args_of(offer)
    return FfmpegProcessEncoder(ffmpeg_command(engine, target), target, engine.input_pix_fmt,
                                offer.device)


def open_ffmpeg(args_of: ArgsOf) -> functools.partial[FfmpegProcessEncoder]:
    """An `Opener` running the FFmpeg command of `args_of(offer)` (a module-level function:
    offers are pickled into the probe's child process)."""
    return functools.partial(_open, args_of)


def hardware_offer(name: str, engine: Engine, args_of: ArgsOf, device: str,
                   **options: str) -> EncoderOffer:
    """A hardware engine's offer: H.264 High at level 4.1 unless `options` say otherwise,
    above software (priority 10)."""
    return EncoderOffer(name, engine, open_ffmpeg(args_of), device=device, priority=10,
                        options={"profile": "high", "level": "4.1", **options})
