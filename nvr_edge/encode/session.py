"""An encoding session with fallback: the user (an MJPEG camera's recorder, a live
rendition) feeds frames; the best healthy encoder encodes them. An encoder that raises,
or stops producing (no packet for `stall_frames` frames or `stall_s` seconds), is marked
unhealthy, an alert is raised, and the frame goes to the next candidate (software last).
A failed encoder is tried again once its backoff has passed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nvr_edge.encode.offer import (
    EncodedPacket,
    EncoderError,
    EncoderOffer,
    EncodeTarget,
    FrameEncoder,
)
from nvr_edge.encode.policy import RetryPolicy
from nvr_edge.models import Alert, AlertLevel

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)


@dataclass
class _Health:
    failures: int = 0
    retry_at: float = 0.0
    reason: str = ""


class EncoderSession:
    def __init__(self, candidates: Sequence[EncoderOffer], target: EncodeTarget, *,
                 alert: Callable[[Alert], None], camera: str | None = None,
                 stall_frames: int = 30, stall_s: float = 5.0,
                 retry: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not candidates:
            raise EncoderError("no encoder passed its probe")
        self.candidates, self.target = list(candidates), target
        self._alert, self._camera, self._clock = alert, camera, clock
        self._stall_frames, self._stall_s = stall_frames, stall_s
        self._retry = retry or RetryPolicy()
        self._health = {o.name: _Health() for o in self.candidates}
        self._index: int | None = None
        self._encoder: FrameEncoder | None = None
        self._silent_frames = 0
        self._last_output = clock()
        self.switches = 0
        self.opened = 0  # encoders opened so far: a new one starts a new stream

    @property
    def active(self) -> str | None:
        return None if self._index is None else self.candidates[self._index].name

    def encode(self, frame: av.VideoFrame, force_keyframe: bool = False
               ) -> list[EncodedPacket]:
        """Packets of the active encoder; after a switch the first one is a keyframe of
        the new encoder's stream (with its own parameter sets)."""
        self._return_to_better()
        for _ in range(len(self.candidates) + 1):
            if self._encoder is None:
                self._open_next()
            assert self._encoder is not None
            try:
                packets = self._encoder.encode(frame, force_keyframe)
            except Exception as exc:  # a plugin's encoder may raise anything
                self._fail(f"failed: {exc}")
                continue
            now = self._clock()
            if packets:
                self._silent_frames, self._last_output = 0, now
                return packets
            self._silent_frames += 1
            silent_s = now - self._last_output
            if self._silent_frames < self._stall_frames and silent_s < self._stall_s:
                return packets
            self._fail(f"stalled: no output for {self._silent_frames} frames "
                       f"({silent_s:.1f} s)")
        raise EncoderError("every encoder failed on this frame")

    def flush(self) -> list[EncodedPacket]:
        if self._encoder is None:
            return []
        try:
            return self._encoder.flush()
        except Exception as exc:
            self._fail(f"failed at the end: {exc}")
            return []

    def close(self) -> None:
        if self._encoder is not None:
            self._close_encoder()

    def state(self) -> dict[str, Any]:
        now = self._clock()
        return {"active": self.active, "switches": self.switches, "candidates": [
            {"name": o.name, "engine": str(o.engine), "failures": h.failures,
             "healthy": h.retry_at <= now, "reason": h.reason,
             "retry_in_s": max(0.0, round(h.retry_at - now, 1))}
            for o in self.candidates for h in (self._health[o.name],)]}

    def _due(self, index: int, now: float) -> bool:
        return self._health[self.candidates[index].name].retry_at <= now

    def _return_to_better(self) -> None:
        if self._index is None or self._index == 0:
            return
        now = self._clock()
        if any(self._due(i, now) for i in range(self._index)):
            log.info("encoder %s: trying a better encoder again", self.active)
            self._close_encoder()

    def _open_next(self) -> None:
        now = self._clock()
        due = [i for i in range(len(self.candidates)) if self._due(i, now)]
        # None due: better any encoder than none, soonest retry first
        order = due or sorted(range(len(self.candidates)),
                              key=lambda i: self._health[self.candidates[i].name].retry_at)
        for index in order:
            offer = self.candidates[index]
            try:
                self._encoder = offer.open(offer, self.target)
            except Exception as exc:
                self._index = index
                self._fail(f"would not open: {exc}")
                continue
            self.opened += 1
            if self._index is not None and self._index != index:
                self.switches += 1
            self._index, self._silent_frames, self._last_output = index, 0, self._clock()
            log.info("encoding %dx%d with %s", self.target.width, self.target.height,
                     offer.name)
            return
        raise EncoderError("no encoder would open")

    def _fail(self, reason: str) -> None:
        assert self._index is not None
        name = self.candidates[self._index].name
        health = self._health[name]
        health.failures += 1
        health.reason = reason
        delay = self._retry.delay(health.failures)
        health.retry_at = self._clock() + delay
        self._close_encoder()
        log.warning("encoder %s %s; retried in %.0f s", name, reason, delay)
        self._alert(Alert("encoder_failed", AlertLevel.WARNING,
                          f"encoder {name} {reason}; its work moves to the next encoder, "
                          f"it is tried again in {delay:.0f} s", camera=self._camera))

    def _close_encoder(self) -> None:
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            try:
                encoder.close()
            except Exception:
                log.exception("closing an encoder failed")
