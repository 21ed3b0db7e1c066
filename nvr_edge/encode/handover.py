"""The encoders a camera worker may use, handed over by the main process through a file
in the state folder: the offers that passed their probe, best first, pickled.

A file, not worker arguments: workers start with the box, before the probes (a few
seconds each) have answered, and a probe run again later (a device node appeared) must
reach workers already running. The worker reads it when a session needs an encoder. The
offers are pickled because a plugin's opener is code (a module-level function, as the
probe already requires), and test or third-party encoders registered in the main
process's plugin manager reach the worker this way too."""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from nvr_edge.encode.offer import EncoderOffer

log = logging.getLogger(__name__)

FILE_NAME = "encoders.pickle"


def handover_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def publish(state_dir: Path, ranked: Sequence[EncoderOffer]) -> None:
    """Replace the file at once (rename), so a worker never reads half of it."""
    path = handover_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}")
    part.write_bytes(pickle.dumps(list(ranked)))
    os.replace(part, path)


def read(state_dir: Path) -> list[EncoderOffer] | None:
    """The ranked offers; None while the main process has published none."""
    try:
        data = handover_path(state_dir).read_bytes()
    except FileNotFoundError:
        return None
    try:
        offers = pickle.loads(data)  # written by this box's own main process
    except Exception as exc:  # an offer whose plugin is gone from this worker
        log.warning("the encoders file could not be read: %s", exc)
        return None
    return [o for o in offers if isinstance(o, EncoderOffer)]


def wait_for_offers(state_dir: Path, timeout_s: float,
                    stopped: Callable[[], bool]) -> list[EncoderOffer] | None:
    """The offers once published (the start-up probe may still run), None at timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        offers = read(state_dir)
        if offers or time.monotonic() >= deadline or stopped():
            return offers
        time.sleep(0.2)


def clear(state_dir: Path) -> None:
    """At start: a previous run's verdicts must not outlive it (hardware may be gone)."""
    handover_path(state_dir).unlink(missing_ok=True)
