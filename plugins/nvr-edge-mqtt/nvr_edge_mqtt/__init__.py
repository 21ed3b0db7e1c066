"""nvr-edge's MQTT integration: health, state and events out, fleet commands in."""

__version__ = "0.1.0"
