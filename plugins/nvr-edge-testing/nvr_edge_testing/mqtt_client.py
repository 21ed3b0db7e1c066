"""An MQTT client that records what it sees, for tests against a real Mosquitto."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.waiting import wait_for

__all__ = ["Watcher", "response_properties"]


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool
    at: float
    properties: Any = None

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)


class Watcher:
    """An MQTT 5 client subscribed to `#` (or what it is told) that keeps every message."""

    def __init__(self, broker: Mosquitto, topics: tuple[str, ...] = ("#",),
                 name: str | None = None, persistent: bool = False,
                 login: tuple[str, str] | None = None) -> None:
        """`persistent`: a session the broker keeps (and queues QoS 1 messages for) while
        the watcher or the broker is away, as a fleet back end would use."""
        self.broker, self.persistent = broker, persistent
        self.messages: list[Seen] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=name or f"watcher-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        if broker.tls is not None:
            self.client.tls_set(ca_certs=str(broker.tls.ca),
                                certfile=str(broker.tls.client_cert),
                                keyfile=str(broker.tls.client_key))
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: self.subscribed.set()

    def __enter__(self) -> Watcher:
        props = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.connect_async("127.0.0.1", self.broker.port, keepalive=30,
                                  clean_start=not self.persistent, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(10), "watcher did not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        seen = Seen(message.topic, bytes(message.payload), bool(message.retain),
                    time.monotonic(), getattr(message, "properties", None))
        with self.lock:
            self.messages.append(seen)

    def on(self, topic: str) -> list[Seen]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Seen | None:
        found = self.on(topic)
        return found[-1] if found else None

    def wait_text(self, topic: str, text: str, timeout: float, after: int = 0) -> Seen:
        """The first message on `topic` with payload `text` among messages[after:]."""
        def match() -> Seen | None:
            with self.lock:
                return next((m for m in self.messages[after:]
                             if m.topic == topic and m.text == text), None)
        return wait_for(match, timeout, f"{text!r} on {topic}")

    def mark(self) -> int:
        with self.lock:
            return len(self.messages)

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False,
                properties: Properties | None = None) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain,
                            properties=properties).wait_for_publish(10)

    def request(self, base: str, action: str, body: dict[str, Any] | None = None,
                timeout: float = 40) -> dict[str, Any]:
        """Send a request with a fresh transaction id and wait for its response."""
        transaction = uuid.uuid4().hex
        self.publish(f"{base}/request/{action}",
                     json.dumps({"transaction": transaction, **(body or {})}))

        def answer() -> dict[str, Any] | None:
            for m in self.on(f"{base}/response/{action}"):
                reply = m.json()
                if reply.get("transaction") == transaction:
                    return reply
            return None
        return wait_for(answer, timeout, f"response to {action}")


def response_properties(topic: str, correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = topic
    props.CorrelationData = correlation
    return props
