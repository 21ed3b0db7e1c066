"""Home Assistant MQTT device discovery: one retained message describes the box and its
entities (a connectivity sensor per camera; free space, backlog, CPU, temperature).

Republished when Home Assistant announces itself (`<ha prefix>/status` = `online`), since
it may have lost its discovery state."""

from __future__ import annotations

from typing import Any

from nvr_edge import Config

from .topics import Topics


def discovery_topic(ha_prefix: str, device_id: str) -> str:
    return f"{ha_prefix}/device/{device_id}/config"


def birth_topic(ha_prefix: str) -> str:
    return f"{ha_prefix}/status"


def discovery(config: Config, topics: Topics, version: str, model: str) -> dict[str, Any]:
    uid = f"nvr_edge_{config.device_id}"
    components: dict[str, Any] = {}
    for camera in config.cameras:
        components[f"{camera.id}_recording"] = {
            "p": "binary_sensor", "device_class": "connectivity",
            "name": f"{camera.name or camera.id} recording",
            "unique_id": f"{uid}_{camera.id}_recording",
            "state_topic": topics.camera_state(camera.id),
            "value_template": "{{ 'ON' if value == 'online' else 'OFF' }}",
        }
    for tier in ("cache", "archive"):
        components[f"{tier}_free"] = _health_sensor(
            uid, topics, f"{tier}_free", f"{tier.capitalize()} free", "GB", "data_size",
            f"{{{{ ((value_json.tiers.{tier}.free_bytes or 0) / 1e9) | round(1) }}}}")
    components["backlog"] = _health_sensor(
        uid, topics, "backlog", "Archive backlog", "segments", None,
        "{{ (value_json.tiers.cache.backlog or {}).segments | default(0) }}")
    components["cpu"] = _health_sensor(
        uid, topics, "cpu", "CPU", "%", None, "{{ value_json.system.cpu_percent }}")
    components["temperature"] = _health_sensor(
        uid, topics, "temperature", "Temperature", "°C", "temperature",
        "{{ value_json.system.temperature_c }}")
    components["status"] = {
        "p": "sensor", "name": "Status", "unique_id": f"{uid}_status",
        "state_topic": topics.health, "value_template": "{{ value_json.overall }}",
    }
    return {
        "device": {"identifiers": [uid], "name": f"NVR {config.device_id}",
                   "manufacturer": "nvr-edge", "model": model, "sw_version": version},
        "origin": {"name": "nvr-edge", "sw_version": version},
        "availability_topic": topics.availability,
        "availability_template": "{{ 'online' if value == 'online' else 'offline' }}",
        "qos": 1,
        "components": components,
    }


def _health_sensor(uid: str, topics: Topics, key: str, name: str, unit: str,
                   device_class: str | None, template: str) -> dict[str, Any]:
    sensor = {"p": "sensor", "name": name, "unique_id": f"{uid}_{key}",
              "state_topic": topics.health, "unit_of_measurement": unit,
              "value_template": template}
    if device_class:
        sensor["device_class"] = device_class
    return sensor
