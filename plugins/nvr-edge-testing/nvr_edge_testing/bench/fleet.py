"""`nvr-edge bench fleet`: N simulated boxes on one real Mosquitto, measured.

Each box runs the MQTT plugin's own bridge (`nvr_edge_mqtt.bridge.MqttBridge`: the same
session, Last Will, retained state, event spool, payloads and request handling as on a
box), in this one process, against a `SimulatedBox` standing in for the appliance: it
reports a status every 2 s and closes each camera's segment every `segment_s`, as a
recording box does. What is measured: the broker's CPU and memory, messages per second,
the time from one fleet command to all N answers, the time for all N to be back online
after a broker restart, and the retained messages the broker holds. Prints JSON.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from nvr_edge_mqtt import payloads
from nvr_edge_mqtt.bridge import MqttBridge
from nvr_edge_mqtt.settings import read_mqtt
from nvr_edge_mqtt.spool import EventSpool
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.waiting import wait_for

from nvr_edge import ConfigChange, ControlError, SegmentRecord, now_ms
from nvr_edge.appliance.status import status_document
from nvr_edge.config import parse_config
from nvr_edge.config_store import public_document

BOXES_PER_PROCESS = 100
STATUS_EVERY_S = 2.0  # as the supervisor refreshes its status
PREFIX = "nvr"
GIB = 1024**3


class SimulatedBox:
    """What the bridge's request handler asks of an appliance, for one simulated box:
    cameras that record, tiers that fill slowly, a clock of its own."""

    def __init__(self, device: str, cameras: int, broker_url: str, state_dir: Path) -> None:
        document = {"device": {"id": device}, "storage": {"state_dir": str(state_dir)},
                    "cameras": [{"id": f"cam{n}", "main": f"rtsp://10.0.{n}.2/main"}
                                for n in range(1, cameras + 1)],
                    "mqtt": {"url": broker_url, "topic_prefix": PREFIX,
                             "reconnect_min_s": 1.0, "reconnect_max_s": 10.0}}
        self.config = parse_config(document, readers={"mqtt": read_mqtt})
        self.started = time.monotonic()
        self.recording = {c.id: True for c in self.config.cameras}
        self.offline: set[str] = set()  # cameras a test took away
        self.status_parts: dict[str, Any] = {}  # status parts a test gives the box
        self.segments = dict.fromkeys(self.recording, 0)

    # -- the Appliance protocol, as far as the MQTT plugin uses it ----------------------

    def status(self) -> dict[str, Any]:
        cameras = {cam: {"state": "offline" if cam in self.offline else
                         "online" if on else "disabled", "reason": "",
                         "segments": self.segments[cam], "restarts": 0,
                         "recorded_s": self.segments[cam] * 180.0,
                         "counters": {"received": self.segments[cam] * 5400, "rejected": 0},
                         "ingest": {"fps": 30.0, "kbps": 4000.0, "continuity": 1.0}}
                   for cam, on in self.recording.items()}
        free = 2 * GIB * 1024 - sum(self.segments.values()) * 90 * 1024 * 1024
        tiers = {"cache": {"state": "ok", "free_bytes": 200 * GIB, "total_bytes": 256 * GIB,
                           "floor_bytes": 10 * GIB, "backlog": {"segments": 1, "bytes": 1}},
                 "archive": {"state": "ok", "free_bytes": free, "total_bytes": 4096 * GIB,
                             "floor_bytes": 40 * GIB}}
        return status_document(
            device=self.config.device_id, running=True, updated_ms=now_ms(),
            uptime_s=time.monotonic() - self.started, cameras=cameras, tiers=tiers,
            system={"cpu_percent": 30.0, "memory_percent": 40.0, "load": [0.5, 0.5, 0.5]},
            catalog={"healthy": True, "spooled_writes": 0}, plugins=self.status_parts)

    def public_config(self) -> dict[str, Any]:
        return public_document(self.config.document)

    def restart_camera(self, camera_id: str) -> None:
        if camera_id not in self.recording:
            raise ValueError(f"unknown camera {camera_id!r}")

    def retry_camera(self, camera_id: str) -> None:
        self.restart_camera(camera_id)  # nothing waits here: only the check

    def set_recording(self, camera_id: str, on: bool) -> ConfigChange:
        if camera_id not in self.recording:
            raise ControlError(f"unknown camera {camera_id!r}")
        self.recording[camera_id] = on
        return ConfigChange(restarted=[camera_id])

    def set_config(self, document: Any) -> ConfigChange:
        raise ControlError("a simulated box keeps its configuration")

    patch_config = set_config

    def commands(self) -> list[Any]:
        return []

    def plugins(self) -> list[dict[str, Any]]:
        return [{"name": "mqtt", "version": "bench", "builtin": False}]

    def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        return []

    def closed_segment(self, camera: str) -> SegmentRecord:
        self.segments[camera] += 1
        end = now_ms()
        return SegmentRecord(camera=camera, stream="main", start_ms=end - 180_000, end_ms=end,
                             bytes=90 * 1024 * 1024, path=f"/cache/{camera}/{end}.mp4",
                             tier="cache", video_codec="h264", width=1920, height=1080,
                             has_audio=True, id=self.segments[camera])


class Fleet:
    """N boxes, each its bridge and its simulated appliance, fed from one thread."""

    def __init__(self, count: int, cameras: int, segment_s: float, broker_url: str,
                 folder: Path, first: int = 0) -> None:
        self.segment_s = segment_s
        self.boxes: list[tuple[SimulatedBox, MqttBridge]] = []
        for n in range(first, first + count):
            box = SimulatedBox(f"box{n:05d}", cameras, broker_url, folder / f"box{n:05d}")
            settings = box.config.sections["mqtt"]
            spool = EventSpool(folder / f"box{n:05d}" / "mqtt-events.db", 1024 * 1024)
            bridge = MqttBridge(settings, box.config, spool, "bench", box.plugins)
            self.boxes.append((box, bridge))
        self.stop = threading.Event()
        self.feeder = threading.Thread(target=self._feed, name="fleet-feed", daemon=True)

    def start(self) -> None:
        for box, bridge in self.boxes:
            bridge.start(box)  # type: ignore[arg-type]
            bridge.new_status(box.status())
        self.feeder.start()

    def online(self) -> int:
        """Boxes connected whose retained state is out again (`online` published)."""
        return sum(1 for _, bridge in self.boxes
                   if bridge.connected and not bridge.resync_needed)

    def close(self) -> None:
        """Every box shut down cleanly (flush, `stopped`), many at once: one by one, a
        thousand bridges' goodbyes take minutes."""
        self.stop.set()
        self.feeder.join(10)
        with ThreadPoolExecutor(64, thread_name_prefix="fleet-stop") as pool:
            list(pool.map(lambda pair: pair[1].stop(), self.boxes))

    def _feed(self) -> None:
        """Each box's status every 2 s and its cameras' segments every `segment_s`, spread
        evenly over the period so that the fleet does not beat in step."""
        rng = random.Random(1)
        due = [(rng.uniform(0, self.segment_s), box, bridge, cam)
               for box, bridge in self.boxes for cam in box.recording]
        next_status = time.monotonic()
        started = time.monotonic()
        while not self.stop.wait(0.05):
            now = time.monotonic()
            if now >= next_status:
                next_status = now + STATUS_EVERY_S
                for box, bridge in self.boxes:
                    bridge.new_status(box.status())
            elapsed = now - started
            for i, (at, box, bridge, cam) in enumerate(due):
                if at <= elapsed:
                    bridge.event(payloads.segment_event(box.closed_segment(cam)))
                    due[i] = (at + self.segment_s, box, bridge, cam)


def _fleet_process(first: int, count: int, cameras: int, segment_s: float, url: str,
                   folder: Path, online: Any, slot: int, stop: Any) -> None:
    """One process's share of a fleet, reporting how many of its boxes are online."""
    _quiet_and_roomy()
    fleet = Fleet(count, cameras, segment_s, url, folder, first)
    fleet.start()
    while not stop.wait(0.1):
        online[slot] = fleet.online()
    fleet.close()


class FleetProcesses:
    """A fleet spread over processes of at most BOXES_PER_PROCESS boxes: paho's network
    loop uses select(), which fails for descriptors past 1024, and each box holds four (its
    socket, its spool's database, WAL and shared-memory files): at 250 boxes a process,
    two thirds of a 1,000-box fleet never answered."""

    def __init__(self, count: int, cameras: int, segment_s: float, broker_url: str,
                 folder: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        shares = [(first, min(BOXES_PER_PROCESS, count - first))
                  for first in range(0, count, BOXES_PER_PROCESS)]
        self.online_counts = ctx.Array("i", len(shares))
        self.stopping = ctx.Event()
        self.processes = [ctx.Process(target=_fleet_process, daemon=True, args=(
            first, n, cameras, segment_s, broker_url, folder, self.online_counts, slot,
            self.stopping)) for slot, (first, n) in enumerate(shares)]

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def online(self) -> int:
        return sum(self.online_counts)

    def close(self) -> None:
        self.stopping.set()
        for process in self.processes:
            process.join(120)
            if process.is_alive():
                process.kill()


class Operator:
    """A fleet back end: counts what the broker says of itself ($SYS) and asks commands."""

    def __init__(self, broker: Mosquitto) -> None:
        self.sys: dict[str, str] = {}
        self.answers: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"operator-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(
            [("$SYS/#", 0), (f"{PREFIX}/+/response/ping", 1)])
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.startswith("$SYS/"):
            with self.lock:
                self.sys[message.topic] = message.payload.decode(errors="replace")
            return
        try:
            transaction = json.loads(message.payload).get("transaction")
        except (ValueError, AttributeError):
            return
        with self.lock:
            if transaction in self.answers:
                self.answers[transaction].append(time.monotonic())

    def number(self, topic: str) -> float | None:
        with self.lock:
            text = self.sys.get(f"$SYS/broker/{topic}")
        try:
            return float(text) if text is not None else None
        except ValueError:
            return None

    def ping_fleet(self, expected: int, timeout: float) -> dict[str, Any]:
        """One `ping` to the whole fleet; when the answers came, as seconds after asking."""
        transaction = uuid.uuid4().hex
        with self.lock:
            self.answers[transaction] = []
        asked = time.monotonic()
        self.client.publish(f"{PREFIX}/fleet/request/ping",
                            json.dumps({"transaction": transaction}), qos=1)
        deadline = asked + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.answers[transaction]) >= expected:
                    break
            time.sleep(0.05)
        with self.lock:
            times = sorted(t - asked for t in self.answers.pop(transaction))
        return {"answers": len(times), "expected": expected,
                "p50_s": _quantile(times, 0.5), "p99_s": _quantile(times, 0.99),
                "all_s": round(times[-1], 3) if len(times) >= expected else None}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)


def _process(pid: int) -> tuple[float, float]:
    """CPU seconds and resident MiB of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
               .splitlines() if line.startswith("VmRSS:")) / 1024
    return cpu, rss


def _progress(line: str) -> None:
    print(f"bench fleet: {line}", file=sys.stderr, flush=True)


def _timed(what: Callable[[], bool], timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if what():
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    return None


def measure_fleet(count: int, cameras: int, seconds: float, segment_s: float,
                  folder: Path) -> dict[str, Any]:
    broker = Mosquitto(folder / "broker", max_files=count * 2 + 1024,
                       extra=["sys_interval 1"]).start()
    fleet = FleetProcesses(count, cameras, segment_s, broker.url, folder / "boxes")
    operator = Operator(broker)
    result: dict[str, Any] = {"boxes": count, "cameras_per_box": cameras,
                              "segment_s": segment_s, "window_s": seconds}
    try:
        assert broker.process is not None
        started = time.monotonic()
        fleet.start()
        all_online = _timed(lambda: fleet.online() == count, 60 + count / 10)
        result["all_online_after_start_s"] = None if all_online is None else round(
            time.monotonic() - started, 2)
        _progress(f"{count} boxes: {fleet.online()} online after start")
        time.sleep(STATUS_EVERY_S * 2)  # past the first resync burst
        received_before = wait_for(lambda: operator.number("messages/received"), 60,
                                   "the broker's $SYS counters")
        cpu_before, _ = _process(broker.process.pid)
        window_start = time.monotonic()
        time.sleep(seconds)
        window = time.monotonic() - window_start
        cpu_after, rss = _process(broker.process.pid)
        received = (operator.number("messages/received") or 0) - received_before
        result["steady"] = {
            "broker_cpu_pct": round(100 * (cpu_after - cpu_before) / window, 2),
            "broker_rss_mib": round(rss, 1),
            "messages_per_s": round(received / window, 1),
            "messages_per_box_per_hour": round(received / window * 3600 / count, 1),
            "retained": operator.number("retained messages/count"),
            "clients": operator.number("clients/connected"),
        }
        _progress(f"{count} boxes: steady window measured")
        result["fleet_ping"] = operator.ping_fleet(count, 30 + count / 20)
        operator.close()
        broker.stop()  # a broker restart: every box loses its session at once
        wait_for(lambda: fleet.online() == 0, 30, "every box to see the broker gone")
        broker.start()
        result["broker_restart"] = {
            "all_online_s": _timed(lambda: fleet.online() == count, 120 + count / 5),
            "online": fleet.online()}
        operator = Operator(broker)
        result["fleet_ping_after_restart"] = operator.ping_fleet(count, 30 + count / 20)
        result["total_s"] = round(time.monotonic() - started, 1)
        _progress(f"{count} boxes: done in {result['total_s']} s")
    finally:
        fleet.close()
        operator.close()
        broker.stop()
    return result


def _quiet_and_roomy() -> None:
    """Descriptors and small stacks for hundreds of sessions; only their errors logged (a
    thousand sessions say every connect and disconnect)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.getLogger("nvr_edge_mqtt").setLevel(logging.ERROR)
    threading.stack_size(512 * 1024)  # three threads per box


def run_fleet_bench(counts: list[int], cameras: int, seconds: float, segment_s: float,
                    work_dir: Path | None = None) -> int:
    """Raise this process's descriptor limit (a socket and a spool per box), then measure
    each fleet size in turn; print one JSON object."""
    _quiet_and_roomy()
    runs = []
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for count in counts:
            runs.append(measure_fleet(count, cameras, seconds, segment_s,
                                      Path(tmp) / f"n{count}"))
    print(json.dumps({"benchmark": "fleet", "broker": "mosquitto (one, on loopback)",
                      "runs": runs}, indent=2))
    return 0
