"""The optional compiled part of nvr-edge (everything else is in pyproject.toml).

`nvr_edge.camera._remux`, the packet path of `recording.engine = "native"`, is compiled
from native/remux.c against the system's FFmpeg (Debian: libavformat-dev, libavcodec-dev,
libavutil-dev) only when NVR_EDGE_NATIVE=1 (ci/setup sets it). Without it the wheel stays
pure Python: the image's wheels are built on the x86_64 host for an aarch64 target, where
a host-compiled module would be the wrong architecture (docs/ARCHITECTURE.md, "The native
engine").
"""

import os

from setuptools import Extension, setup

NATIVE = os.environ.get("NVR_EDGE_NATIVE") == "1"

setup(ext_modules=[
    Extension("nvr_edge.camera._remux", sources=["native/remux.c"],
              libraries=["avformat", "avcodec", "avutil"],
              extra_compile_args=["-O2", "-std=gnu11", "-Wall"]),
] if NATIVE else [])
