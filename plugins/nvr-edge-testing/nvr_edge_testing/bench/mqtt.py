"""`nvr-edge bench mqtt`: what one box sends a broker, measured, and what a fleet would.

Runs the real appliance (simulated cameras, this plugin, a throwaway Mosquitto), counts
every message a subscriber to `#` receives, by topic, over a steady-state window (after
the box is online and its cameras are recording), and scales it to an hour and to a fleet.
Prints JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from nvr_edge_testing.appliance import plugins_env
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip

# MQTT 5 PUBLISH overhead besides topic and payload: fixed header (~3), topic length (2),
# packet id (2), property length (1); a QoS 1 message also costs a PUBACK (4) each way
# the broker forwards it.
PUBLISH_OVERHEAD = 8
PUBACK = 4


def topic_class(topic: str, device: str) -> str:
    """`nvr/box/camera/cam1/state` -> `camera/+/state`: the per-box topic shape."""
    rest = topic.split(f"/{device}/", 1)[-1]
    return re.sub(r"^camera/[^/]+/", "camera/+/", rest)


class Counting:
    def __init__(self, device: str) -> None:
        self.device = device
        self.lock = threading.Lock()
        self.counting = False
        self.messages: Counter[str] = Counter()
        self.payload: Counter[str] = Counter()
        self.wire: Counter[str] = Counter()
        self.online = threading.Event()

    def on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/availability") and message.payload == b"online":
            self.online.set()
        with self.lock:
            if not self.counting:
                return
            kind = topic_class(message.topic, self.device)
            self.messages[kind] += 1
            self.payload[kind] += len(message.payload)
            self.wire[kind] += (len(message.topic) + len(message.payload) + PUBLISH_OVERHEAD
                                + (PUBACK if message.qos else 0))


def measure(cameras: int, seconds: float, segment_seconds: int, stats_interval_s: float,
            root: Path) -> dict[str, Any]:
    clip = ensure_clip(root / "clips", width=640, height=360, bitrate_kbps=800, seconds=4)
    broker = Mosquitto(root / "broker").start()
    device = "load-box"
    counting = Counting(device)
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                         client_id="load-counter", protocol=mqtt.MQTTv5)
    client.on_message = counting.on_message
    client.on_connect = lambda c, *_: c.subscribe("#", 1)
    client.connect("127.0.0.1", broker.port, 30)
    client.loop_start()
    try:
        with SimCameraServer(root / "clips", cameras=cameras, main=clip,
                             log_path=root / "simcam.log") as server:
            config = root / "nvr.toml"
            urls = {f"cam{n}": server.url(n, "main") for n in range(1, cameras + 1)}
            document = appliance_document(urls, device_id=device, connect_timeout_s=None,
                                          segment_seconds=segment_seconds)
            document["mqtt"] = {"url": f"mqtt://127.0.0.1:{broker.port}",
                                "stats_interval_s": stats_interval_s}
            config = write_toml(root / "nvr.toml", document)
            env = plugins_env()  # the MQTT plugin must load
            with open(root / "appliance.log", "ab") as log:
                app = subprocess.Popen(
                    [sys.executable, "-m", "nvr_edge", "run", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                if not counting.online.wait(60):
                    raise RuntimeError(f"the box did not come online; see {root}/appliance.log")
                time.sleep(10)  # cameras connect; the start-up burst is not steady state
                with counting.lock:
                    counting.counting = True
                started = time.monotonic()
                time.sleep(seconds)
                with counting.lock:
                    counting.counting = False
                elapsed = time.monotonic() - started
            finally:
                app.terminate()
                app.wait(60)
    finally:
        client.disconnect()
        client.loop_stop()
        broker.stop()
    return report(counting, cameras, elapsed, segment_seconds, stats_interval_s)


def report(counting: Counting, cameras: int, elapsed: float, segment_seconds: int,
           stats_interval_s: float) -> dict[str, Any]:
    per_hour = 3600 / elapsed
    topics = {kind: {"messages": counting.messages[kind],
                     "messages_per_hour": round(counting.messages[kind] * per_hour, 1),
                     "payload_bytes_per_hour": round(counting.payload[kind] * per_hour),
                     "wire_bytes_per_hour": round(counting.wire[kind] * per_hour)}
              for kind in sorted(counting.messages)}
    messages_h = sum(t["messages_per_hour"] for t in topics.values())
    wire_h = sum(t["wire_bytes_per_hour"] for t in topics.values())
    fleet = 10_000
    return {
        "cameras": cameras, "seconds": round(elapsed, 1), "segment_seconds": segment_seconds,
        "stats_interval_s": stats_interval_s, "by_topic": topics,
        "per_box_per_hour": {"messages": round(messages_h), "wire_bytes": wire_h},
        "fleet": {"boxes": fleet,
                  "messages_per_s": round(messages_h * fleet / 3600, 1),
                  "kbit_per_s": round(wire_h * fleet * 8 / 3600 / 1000, 1),
                  "gb_per_day": round(wire_h * fleet * 24 / 1e9, 2)},
    }


def run_bench(cameras: int, seconds: float, segment_seconds: int,
              stats_interval_s: float) -> int:
    with tempfile.TemporaryDirectory(prefix="nvr-mqtt-load-") as tmp:
        result = measure(cameras, seconds, segment_seconds, stats_interval_s, Path(tmp))
    print(json.dumps(result, indent=1))
    return 0
