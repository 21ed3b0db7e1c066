"""A umockdev test bed driven through libumockdev's C API (ctypes: the suite's venv has no
PyGObject). Only useful in a process started under `umockdev-wrapper`, whose preloaded
library shows the bed's /sys and /dev to libudev and open(), and carries its uevents."""

from __future__ import annotations

import ctypes
import shutil
from typing import Any

_lib: Any = None


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int),
                ("message", ctypes.c_char_p)]


def _library() -> Any:
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libumockdev.so.0")
        lib.umockdev_testbed_new.restype = ctypes.c_void_p
        lib.umockdev_testbed_add_from_string.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(_GError))]
        lib.umockdev_testbed_add_from_string.restype = ctypes.c_bool
        lib.umockdev_testbed_get_root_dir.argtypes = [ctypes.c_void_p]
        lib.umockdev_testbed_get_root_dir.restype = ctypes.c_char_p
        lib.umockdev_testbed_uevent.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                ctypes.c_char_p]
        lib.umockdev_testbed_remove_device.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        ctypes_g = ctypes.CDLL("libgobject-2.0.so.0")
        ctypes_g.g_object_unref.argtypes = [ctypes.c_void_p]
        lib.unref = ctypes_g.g_object_unref
        _lib = lib
    return _lib


class Testbed:
    def __init__(self) -> None:
        self.lib = _library()
        self.bed = self.lib.umockdev_testbed_new()
        self.root = self.lib.umockdev_testbed_get_root_dir(self.bed).decode()

    def add(self, description: str) -> str:
        """Add devices from umockdev-record text (P:, N:, E:, A: lines); the sys path of the
        last one."""
        error = ctypes.POINTER(_GError)()
        if not self.lib.umockdev_testbed_add_from_string(self.bed, description.encode(),
                                                         ctypes.byref(error)):
            problem = error.contents.message.decode() if error else "?"
            raise RuntimeError(f"umockdev refused the description ({problem}):\n{description}")
        path = [line for line in description.splitlines() if line.startswith("P: ")][-1]
        return "/sys" + path[3:].strip()

    def uevent(self, sys_path: str, action: str) -> None:
        self.lib.umockdev_testbed_uevent(self.bed, sys_path.encode(), action.encode())

    def remove(self, sys_path: str) -> None:
        self.lib.umockdev_testbed_remove_device(self.bed, sys_path.encode())

    def close(self) -> None:
        """Drop the bed and its temporary folder (the bed's own threads may keep it)."""
        self.lib.unref(self.bed)
        shutil.rmtree(self.root, ignore_errors=True)


def video_device(usb_port: str, index: int, fake: str, udev_caps: str | None,
                 by_id: str | None = None, minor: int = 0) -> str:
    """A video4linux node under a USB interface, as `umockdev-record` writes one; its node
    file holds `fake` (which FakeDevice answers its ioctls)."""
    name = f"video{minor}"
    properties = [f"DEVNAME=/dev/{name}", "SUBSYSTEM=video4linux", "MAJOR=81",
                  f"MINOR={minor}"]
    if udev_caps is not None:  # udev (v4l_id) ran; with `kernel` events nothing of this is set
        properties += [f"ID_V4L_CAPABILITIES={udev_caps}", "ID_VENDOR=Fake",
                       f"ID_MODEL={fake}", f"ID_SERIAL=Fake_{fake}_{usb_port}",
                       f"ID_PATH=pci-0000:00:14.0-usb-0:{usb_port}:1.0"]
    if by_id is not None:
        properties.append(f"DEVLINKS=/dev/v4l/by-id/{by_id} /dev/v4l/by-path/"
                          f"pci-0000:00:14.0-usb-0:{usb_port}:1.0-video-index{index}")
    # umockdev-record order: the path, the node's content, properties, then attributes
    lines = [f"P: /devices/pci0000:00/0000:00:14.0/usb1/{usb_port}/{usb_port}:1.0/"
             f"video4linux/{name}",
             f"N: {name}={fake.encode().hex().upper()}",  # umockdev reads upper-case hex
             *(f"E: {p}" for p in properties),
             f"A: name=Fake {fake}", f"A: index={index}", f"A: dev=81:{minor}"]
    return "\n".join(lines) + "\n"
