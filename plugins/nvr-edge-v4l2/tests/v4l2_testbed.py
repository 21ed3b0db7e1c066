"""A umockdev test bed driven through libumockdev's C API (ctypes: the suite's venv has no
PyGObject). Only useful in a process started under `umockdev-wrapper`, whose preloaded
library shows the bed's /sys and /dev to libudev and open(), carries its uevents, and
hands each ioctl on an emulated node to the bed's ioctl thread, where `answer_ioctls`
has a Python function answer it."""

from __future__ import annotations

import ctypes
import shutil
from collections.abc import Callable
from typing import Any

_lib: Any = None
# gboolean handler(UMockdevIoctlBase*, UMockdevIoctlClient*, gpointer): "handle-ioctl"
_HANDLER = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
Answer = Callable[[int, bytes], bytes]  # (request, struct in) -> struct out; raises OSError


class _IoctlData(ctypes.Structure):
    """The head of UMockdevIoctlData (a Vala fundamental class): its `data` array."""

    _fields_ = [("g_class", ctypes.c_void_p), ("ref_count", ctypes.c_int),
                ("priv", ctypes.c_void_p), ("data", ctypes.POINTER(ctypes.c_ubyte)),
                ("data_len", ctypes.c_int)]


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
        _declare(lib, "umockdev_ioctl_base_new", ctypes.c_void_p)
        _declare(lib, "umockdev_ioctl_client_get_request", ctypes.c_ulong, ctypes.c_void_p)
        _declare(lib, "umockdev_ioctl_client_get_arg", ctypes.c_void_p, ctypes.c_void_p)
        _declare(lib, "umockdev_ioctl_data_resolve", ctypes.c_void_p, ctypes.c_void_p,
                 ctypes.c_size_t, ctypes.c_size_t, ctypes.c_bool, ctypes.c_bool,
                 ctypes.c_void_p)
        _declare(lib, "umockdev_ioctl_data_unref", None, ctypes.c_void_p)
        _declare(lib, "umockdev_ioctl_client_complete", None, ctypes.c_void_p, ctypes.c_long,
                 ctypes.c_int)
        _declare(lib, "umockdev_testbed_attach_ioctl", ctypes.c_bool, ctypes.c_void_p,
                 ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p)
        gobject = ctypes.CDLL("libgobject-2.0.so.0")
        _declare(gobject, "g_object_unref", None, ctypes.c_void_p)
        _declare(gobject, "g_signal_connect_data", ctypes.c_ulong, ctypes.c_void_p,
                 ctypes.c_char_p, _HANDLER, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
        lib.gobject = gobject
        _lib = lib
    return _lib


def _declare(lib: Any, name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, list(argtypes)


class Testbed:
    def __init__(self) -> None:
        self.lib = _library()
        self.bed = self.lib.umockdev_testbed_new()
        self.root = self.lib.umockdev_testbed_get_root_dir(self.bed).decode()
        self._handlers: list[Any] = []  # ctypes callbacks must outlive the bed

    def answer_ioctls(self, devnode: str, answer: Answer) -> None:
        """Every ioctl on `devnode` answered by `answer`: its struct (the size the request
        number names) read from the caller, `answer`'s bytes written back, an OSError
        returned as -1 and its errno."""
        lib = self.lib

        def handle(_base: int, client: int, _data: int) -> bool:
            request = lib.umockdev_ioctl_client_get_request(client)
            size = (request >> 16) & 0x3FFF
            arg = lib.umockdev_ioctl_client_get_arg(client)
            data = lib.umockdev_ioctl_data_resolve(arg, 0, size, True, True, None)
            if not data:
                lib.umockdev_ioctl_client_complete(client, -1, 14)  # EFAULT
                return True
            buffer = _IoctlData.from_address(data).data
            try:
                out = answer(request, bytes(buffer[:size]))
            except OSError as exc:
                lib.umockdev_ioctl_client_complete(client, -1, exc.errno or 5)
            else:
                ctypes.memmove(buffer, out, min(size, len(out)))
                lib.umockdev_ioctl_client_complete(client, 0, 0)
            lib.umockdev_ioctl_data_unref(data)
            return True

        callback = _HANDLER(handle)
        base = lib.umockdev_ioctl_base_new()
        lib.gobject.g_signal_connect_data(base, b"handle-ioctl", callback, None, None, 0)
        if not lib.umockdev_testbed_attach_ioctl(self.bed, devnode.encode(), base, None):
            raise RuntimeError(f"umockdev cannot emulate ioctls on {devnode}")
        self._handlers.append(callback)

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
        self.lib.gobject.g_object_unref(self.bed)
        shutil.rmtree(self.root, ignore_errors=True)


def video_device(usb_port: str, index: int, fake: str, udev_caps: str | None,
                 by_id: str | None = None, minor: int = 0) -> str:
    """A video4linux node under a USB interface, as `umockdev-record` writes one, named
    after its fake (`Testbed.answer_ioctls` makes the fake answer)."""
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
