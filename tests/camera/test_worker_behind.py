"""A camera worker that cannot keep up (a transcode on a loaded box) still does its loop's
other duties: it leaves the queue every CONSUME_MAX_S to report stats, feed the live relay
and see a stop. Before, it stayed inside while packets kept coming: no stats for the whole
run and a SIGTERM unseen until the supervisor killed it."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

from nvr_edge.camera.session_end import SessionState
from nvr_edge.camera.stall import StallMonitor
from nvr_edge.camera.worker import CONSUME_MAX_S
from tests.camera.workers import camera_worker

HANDLE_S = 0.005  # a packet's cost to the slow recorder: 200 a second at most


class SlowRecorder:
    """Takes `HANDLE_S` a packet, and says when it was handed each one."""

    def __init__(self) -> None:
        self.handled: list[float | None] = []

    def handle(self, packet: Any, arrived_s: float | None = None) -> None:
        time.sleep(HANDLE_S)
        self.handled.append(arrived_s)


def test_a_worker_behind_leaves_the_queue_to_do_its_other_duties(tmp_path: Path) -> None:
    worker, _ = camera_worker(tmp_path, "rtsp://127.0.0.1:9/stream")
    config = worker.config
    recorder = SlowRecorder()
    session = SessionState(recorder=recorder,
                           monitor=StallMonitor(config.recording.stall, time.monotonic()))
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    packet = type("Packet", (), {"stream": object()})()
    now = time.monotonic()
    for i in range(1000):  # 5 s of work at HANDLE_S, arrived 1 ms apart: far behind
        items.put((now + i / 1000, packet))
    started = time.monotonic()
    assert worker.consume(session, items.get(), items) is True
    took = time.monotonic() - started
    assert took < CONSUME_MAX_S + 2.5  # all of it would be 5 s (slack: a loaded machine)
    assert not items.empty() and 10 <= len(recorder.handled) < 1000
    # the recorder is told when each packet was read, on the wall clock
    first = recorder.handled[0]
    assert first is not None and abs(first - (time.time() - (time.monotonic() - now))) < 1.0
