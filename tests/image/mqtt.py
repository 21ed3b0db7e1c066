"""The host side of the boot test's MQTT checks: Mosquitto on 127.0.0.1 and a subscriber.

`mosquitto_sub` (Debian's mosquitto-clients) prints every message under the box's topics;
a reader thread stamps each one with the host's monotonic clock as it arrives.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nvr_edge_testing.processes import tied
from nvr_edge_testing.waiting import free_port

DEVICE_ID = "qemu-test"
TOPIC_BASE = f"nvr/{DEVICE_ID}"  # <topic_prefix>/<device.id> (docs/MQTT.md)


class Broker:
    """mosquitto listening on 127.0.0.1 only, on a free port, no persistence."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\n")
        with open(self.workdir / "mosquitto.log", "wb") as log:
            self.process = subprocess.Popen(tied(["mosquitto", "-c", str(conf)]), stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.__exit__()
        raise AssertionError(f"mosquitto did not listen on 127.0.0.1:{self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass(frozen=True)
class Message:
    at: float  # time.monotonic() on arrival
    topic: str
    payload: str


class Subscriber:
    """Everything published under `topic` (a filter such as `nvr/box/#`), in arrival order."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            tied(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
                  "-F", "%t\t%p"]),  # one "topic<TAB>payload" line per message
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            topic, _, payload = line.rstrip("\n").partition("\t")
            with self._lock:
                self.messages.append(Message(time.monotonic(), topic, payload))

    def wait_for(self, topic: str, payload: str | None, timeout: float,
                 after: float = 0.0, contains: str | None = None) -> Message:
        """The first message on `topic` that arrived after `after` (monotonic) with this
        payload (or a payload containing `contains`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for msg in self.messages:
                    if msg.at > after and msg.topic == topic \
                            and (payload is None or msg.payload == payload) \
                            and (contains is None or contains in msg.payload):
                        return msg
            if time.monotonic() > deadline:
                with self._lock:
                    seen = [(m.topic, m.payload[:80]) for m in self.messages[-10:]]
                raise AssertionError(f"no {payload or contains!r} on {topic} within "
                                     f"{timeout:.0f} s; last messages: {seen}")
            time.sleep(0.2)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
