"""nvr-edge: firmware for ARM network video recorders."""

__version__ = "0.1.0"
