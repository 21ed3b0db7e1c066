"""The box's MQTT session: connection, retained state, events, stats and requests.

Threads: paho's network loop (connects, reconnects with backoff, resends unacknowledged
QoS 1 messages after a reconnect); the sender (everything this box publishes, in order);
the command thread (requests, which may wait for the supervisor). Hooks only record and
wake the sender, so the supervisor never waits on the network.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nvr_edge import Appliance, Config, iso_utc, now_ms

from . import homeassistant, payloads
from .commands import CommandHandler, RequestError, error, parse_request
from .request_payload import shorten
from .settings import MqttSettings
from .spool import EventSpool, with_seq
from .topics import Topics

log = logging.getLogger(__name__)
QOS = 1
WINDOW = 20            # events in flight at once
STATE_ACK_TIMEOUT_S = 10.0
STOP_FLUSH_S = 5.0


class MqttBridge:
    def __init__(self, settings: MqttSettings, config: Config, spool: EventSpool,
                 version: str, plugins: Callable[[], list[dict[str, Any]]]) -> None:
        self.settings, self.config, self.spool = settings, config, spool
        self.version, self.plugins = version, plugins
        self.topics = Topics(settings.topic_prefix, config.device_id)
        self.client = self._make_client()
        self.wake = threading.Condition()
        self.stopping = threading.Event()
        self.connected = False
        self.connected_since: str | None = None
        self.resync_needed = False
        self.discovery_needed = False
        self.acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.inflight: dict[int, int] = {}   # paho mid -> event seq
        self.sent_up_to = 0                  # events up to this seq are handed to paho
        self.camera_states: dict[str, str] = {}
        self.camera_reasons: dict[str, str] = {}  # why a camera is not online ("" when it is)
        self.dirty_cameras: set[str] = set()
        self.cleared_cameras: set[str] = set()
        self.candidates: dict[str, list[dict[str, Any]]] = {}  # discovery source -> cameras
        self.dirty_sources: set[str] = set()
        self.status: dict[str, Any] | None = None
        self.update: dict[str, Any] | None = None  # the update state, retained
        self.update_dirty = False
        self.health_sig: tuple[Any, ...] | None = None
        self.health_at = 0.0
        self.stats_at = time.monotonic()
        self.requests: queue.SimpleQueue[mqtt.MQTTMessage | None] = queue.SimpleQueue()
        self.commands: CommandHandler | None = None
        self.threads = [threading.Thread(target=self._send_loop, name="mqtt-sender",
                                         daemon=True),
                        threading.Thread(target=self._command_loop, name="mqtt-commands",
                                         daemon=True)]

    # -- life cycle (main process) -------------------------------------------------------

    def start(self, appliance: Appliance | None) -> None:
        if appliance is not None:
            self.commands = CommandHandler(appliance, self.request_resync, self.version)
        s = self.settings
        log.info("mqtt: connecting to %s as %s (topics under %s/)", s.display,
                 self.client_id, self.topics.base)
        self.client.connect_async(s.host, s.port, s.keepalive_s)
        self.client.loop_start()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Flush events, say `stopped`, disconnect cleanly (no Last Will)."""
        deadline = time.monotonic() + STOP_FLUSH_S
        while self.connected and len(self.spool) and time.monotonic() < deadline:
            self._notify()
            time.sleep(0.05)
        self.stopping.set()
        self._notify()
        self.requests.put(None)
        for thread in self.threads:
            thread.join(timeout=STOP_FLUSH_S)
        if self.connected:
            self._publish_and_wait(self.topics.availability, "stopped", retain=True)
        self.client.disconnect()
        self.client.loop_stop()
        self.spool.close()

    @property
    def client_id(self) -> str:
        return self.settings.client_id or f"nvr-edge-{self.config.device_id}"

    # -- what hooks report (any thread; never blocks on the network) ---------------------

    def event(self, body: dict[str, Any]) -> None:
        self.spool.append(self.topics.event, payloads.dumps(body))
        self._notify()

    def camera_state(self, camera: str, state: str, reason: str = "") -> None:
        with self.wake:
            self.camera_states[camera] = payloads.public_state(state)
            self.camera_reasons[camera] = payloads.shown_reason(state, reason)
            self.dirty_cameras.add(camera)
            self.wake.notify()

    def new_status(self, status: dict[str, Any]) -> None:
        with self.wake:
            self.status = status
            for camera, detail in status.get("cameras", {}).items():
                if camera not in self.camera_states:  # hooks report changes only
                    self.camera_states[camera] = payloads.public_state(detail["state"])
                    self.camera_reasons[camera] = payloads.shown_reason(
                        detail["state"], detail.get("reason", ""))
                    self.dirty_cameras.add(camera)
            update = payloads.update_state(status)
            if update != self.update:
                self.update, self.update_dirty = update, update is not None
            for source, found in payloads.discovery_lists(status).items():
                if self.candidates.get(source) != found:
                    self.candidates[source] = found
                    self.dirty_sources.add(source)
            self.wake.notify()

    def config_changed(self, config: Config) -> None:
        with self.wake:
            kept = {c.id for c in config.cameras}
            for camera in set(self.camera_states) - kept:
                del self.camera_states[camera]
                self.camera_reasons.pop(camera, None)
                self.cleared_cameras.add(camera)
            self.config = config
            self.resync_needed = True
            self.wake.notify()

    def request_resync(self) -> None:
        with self.wake:
            self.resync_needed = True
            self.wake.notify()

    def _notify(self) -> None:
        with self.wake:
            self.wake.notify()

    # -- paho callbacks (paho's thread) --------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.client_id or f"nvr-edge-{self.config.device_id}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else True)
        client.enable_logger(logging.getLogger("nvr_edge_mqtt.paho"))
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=str(s.ca_file) if s.ca_file else None,
                           certfile=str(s.cert_file) if s.cert_file else None,
                           keyfile=str(s.key_file) if s.key_file else None)
        client.will_set(self.topics.availability, "offline", qos=QOS, retain=True)
        # A per-box factor spreads a fleet's reconnects after a broker restart.
        jitter = random.uniform(1.0, 2.0)
        client.reconnect_delay_set(min_delay=s.reconnect_min_s * jitter,
                                   max_delay=s.reconnect_max_s * jitter)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("mqtt: %s refused the connection: %s", self.settings.display, reason)
            return
        log.info("mqtt: connected to %s", self.settings.display)
        subscriptions = [(t, QOS) for t in self.topics.request_filters]
        if self.settings.homeassistant:
            subscriptions.append((homeassistant.birth_topic(
                self.settings.homeassistant_prefix), QOS))
        client.subscribe(subscriptions)
        with self.wake:
            self.connected = True
            self.connected_since = iso_utc(now_ms())
            self.resync_needed = True
            self.wake.notify()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: Any, _props: Any) -> None:
        if self.connected:
            log.warning("mqtt: disconnected from %s (%s); events are kept on disk and sent "
                        "when it is back", self.settings.display, reason)
        with self.wake:
            self.connected = False
            self.connected_since = None

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        if self.settings.homeassistant and message.topic == homeassistant.birth_topic(
                self.settings.homeassistant_prefix):
            if message.payload == b"online":
                with self.wake:
                    self.discovery_needed = True
                    self.wake.notify()
            return
        if message.retain:  # a retained command would replay at every connect
            log.warning("mqtt: ignoring a retained request on %s", message.topic)
            return
        self.requests.put(message)

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any,
                    _props: Any) -> None:
        self.acks.put(mid)
        self._notify()

    # -- the sender thread ---------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self.stopping.is_set():
            with self.wake:
                self.wake.wait(timeout=1.0)
            try:
                self._send_due()
            except Exception:  # the sender must outlive any one bad message
                log.exception("mqtt: sender error")
                time.sleep(1.0)

    def _send_due(self) -> None:
        self._take_acks()
        if not self.connected:
            return
        if self.resync_needed and self.status is not None:  # the first status is the
            self.resync_needed = False                      # initial state's last part
            self._resync()
        if self.discovery_needed:
            self.discovery_needed = False
            self._publish_discovery()
        with self.wake:
            dirty, self.dirty_cameras = self.dirty_cameras, set()
            cleared, self.cleared_cameras = self.cleared_cameras, set()
            sources, self.dirty_sources = self.dirty_sources, set()
        for source in sorted(sources):
            self._publish_candidates(source)
        if self.update_dirty:
            self._publish_update()
        for camera in sorted(dirty):
            self._publish_camera(camera)
        for camera in sorted(cleared):
            self._publish(self.topics.camera_state(camera), b"", retain=True)
            self._publish(self.topics.camera_reason(camera), b"", retain=True)
        self._send_events()
        self._maybe_health()
        self._maybe_stats()

    def _resync(self) -> None:
        """Everything retained, each acknowledged, then `online`: a subscriber that sees
        `online` has the box's whole state."""
        with self.wake:
            cameras = sorted(self.camera_states)
            self.dirty_cameras.clear()
            sources = sorted(self.candidates)
            self.dirty_sources.clear()
        sent = [self._publish(self.topics.info, payloads.dumps(
            payloads.info(self.config, self.version, self.plugins())), retain=True)]
        if self.status is not None:
            sent.append(self._publish_health(payloads.health(self.status)))
        for camera in cameras:
            sent.extend(self._publish_camera(camera))
        sent.extend(self._publish_candidates(source) for source in sources)
        sent.append(self._publish_update())
        if self.settings.homeassistant:
            sent.append(self._publish_discovery())
        for info in sent:
            _wait(info, STATE_ACK_TIMEOUT_S)
        self._publish(self.topics.availability, "online", retain=True)

    def _publish_camera(self, camera: str) -> list[mqtt.MQTTMessageInfo | None]:
        """The camera's retained state word (what Home Assistant reads) and its reason."""
        with self.wake:
            state = self.camera_states.get(camera)
            reason = self.camera_reasons.get(camera, "")
        return [self._publish(self.topics.camera_state(camera), state, retain=True),
                self._publish(self.topics.camera_reason(camera), reason, retain=True)]

    def _publish_candidates(self, source: str) -> mqtt.MQTTMessageInfo | None:
        with self.wake:
            found = self.candidates.get(source, [])
        return self._publish(self.topics.discovery(source),
                             payloads.dumps({"source": source, "candidates": found}),
                             retain=True)

    def _publish_update(self) -> mqtt.MQTTMessageInfo | None:
        with self.wake:
            update, self.update_dirty = self.update, False
        if update is None:
            return None
        return self._publish(self.topics.update, payloads.dumps(update), retain=True)

    def link(self) -> dict[str, Any]:
        """The `mqtt` status part: connected or not, since when (the update gate waits
        for it after an update)."""
        with self.wake:
            return {"connected": self.connected, "since": self.connected_since,
                    "broker": self.settings.display}

    def _publish_discovery(self) -> mqtt.MQTTMessageInfo | None:
        body = homeassistant.discovery(self.config, self.topics, self.version,
                                       payloads.hardware_model())
        topic = homeassistant.discovery_topic(self.settings.homeassistant_prefix,
                                              self.config.device_id)
        return self._publish(topic, payloads.dumps(body), retain=True)

    def _send_events(self) -> None:
        room = WINDOW - len(self.inflight)
        if room <= 0:
            return
        for seq, topic, body in self.spool.after(self.sent_up_to, room):
            info = self._publish(topic, with_seq(seq, body))
            if info is None:
                return
            self.inflight[info.mid] = seq
            self.sent_up_to = seq

    def _take_acks(self) -> None:
        while True:
            try:
                mid = self.acks.get_nowait()
            except queue.Empty:
                return
            seq = self.inflight.pop(mid, None)
            if seq is not None:
                self.spool.remove(seq)

    def _maybe_health(self) -> None:
        if self.status is None:
            return
        report = payloads.health(self.status)
        signature = payloads.health_signature(report)
        if signature == self.health_sig:
            return
        level_changed = self.health_sig is None or signature[0] != self.health_sig[0]
        if not level_changed and \
                time.monotonic() - self.health_at < self.settings.health_min_interval_s:
            return
        self._publish_health(report)

    def _publish_health(self, report: dict[str, Any]) -> mqtt.MQTTMessageInfo | None:
        self.health_sig = payloads.health_signature(report)
        self.health_at = time.monotonic()
        report["mqtt"] = {"spooled_events": len(self.spool),
                          "dropped_events": self.spool.dropped}
        return self._publish(self.topics.health, payloads.dumps(report), retain=True)

    def _maybe_stats(self) -> None:
        now = time.monotonic()
        if self.status is None or now - self.stats_at < self.settings.stats_interval_s:
            return
        self.stats_at = now
        self._publish(self.topics.stats,
                      payloads.dumps(payloads.stats(self.status, self.settings.stats_interval_s)),
                      qos=0)

    def _publish(self, topic: str, payload: str | bytes | None, *, retain: bool = False,
                 qos: int = QOS, properties: Properties | None = None,
                 ) -> mqtt.MQTTMessageInfo | None:
        """Publish now (None if the connection is gone: the caller retries later). JSON
        payloads were redacted string by string (payloads.dumps); the rest are fixed words
        (availability, camera states)."""
        if isinstance(payload, str):
            payload = payload.encode()
        info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                   properties=properties)
        if info.rc == mqtt.MQTT_ERR_NO_CONN and qos == 0:
            return None
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("mqtt: publishing on %s failed: %s", topic, mqtt.error_string(info.rc))
            return None
        return info  # NO_CONN with QoS 1: paho holds it and sends it after the reconnect

    def _publish_and_wait(self, topic: str, payload: str, *, retain: bool) -> None:
        _wait(self._publish(topic, payload, retain=retain), STOP_FLUSH_S)

    # -- the command thread --------------------------------------------------------------

    def _command_loop(self) -> None:
        while True:
            message = self.requests.get()
            if message is None or self.stopping.is_set():
                return
            try:
                self._answer(message)
            except Exception:
                log.exception("mqtt: request on %s failed", message.topic)

    def _answer(self, message: mqtt.MQTTMessage) -> None:
        action = self.topics.action_of(message.topic)
        if action is None:
            return
        topic, properties = self._reply_route(message, action)
        self._publish(topic, payloads.dumps(self._response(action, message.payload)),
                      properties=properties)

    def _response(self, action: str, payload: bytes) -> dict[str, Any]:
        """The answer to one request; whatever goes wrong, the requester gets one."""
        try:
            request = parse_request(action, payload)
        except RequestError as exc:
            return error(None, str(exc))
        except Exception as exc:  # a bug in reading one request must not cost the answer
            log.exception("mqtt: reading a request for %s failed", shorten(action))
            return error(None, f"internal error: {type(exc).__name__}")
        if self.commands is None:
            return error(request.transaction, "the appliance is not running")
        log.info("mqtt: request %s (transaction %s)", action, shorten(repr(request.transaction)))
        return self.commands.handle(request)

    def _reply_route(self, message: mqtt.MQTTMessage,
                     action: str) -> tuple[str, Properties | None]:
        """MQTT 5 requesters may name their own response topic and correlation data."""
        props = getattr(message, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None)
        if not response_topic or "+" in response_topic or "#" in response_topic:
            return self.topics.response(action), None
        reply = Properties(PacketTypes.PUBLISH)
        correlation = getattr(props, "CorrelationData", None)
        if correlation is not None:
            reply.CorrelationData = correlation
        return response_topic, reply


def _wait(info: mqtt.MQTTMessageInfo | None, timeout: float) -> None:
    """Wait for the broker's acknowledgement; a lost connection ends the wait (paho
    resends after the reconnect, and a resync follows it anyway)."""
    if info is None:
        return
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(timeout)
