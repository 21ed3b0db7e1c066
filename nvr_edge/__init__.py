"""nvr-edge: firmware for ARM network video recorders."""

__version__ = "0.2.0"
