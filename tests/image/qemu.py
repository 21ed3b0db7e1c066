"""The appliance image under QEMU (TCG) for the boot test: build, disk, VM, command channel.

The guest is reached through two things only, both UNIX sockets in the test's folder:
the HMP monitor (hard reset, quit) and a virtio-serial port on which the image's
qemu_aarch64_virt board runs a command channel (board/qemu_aarch64_virt/.../test-channel).
Its network is QEMU's user-mode network: the guest reaches the host's loopback at
10.0.2.2, and nothing is forwarded into the guest.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nvr_edge_testing.processes import tied

REPO = Path(__file__).resolve().parents[2]
BOARD = "qemu_aarch64_virt"
IMAGES = REPO / "image" / "output" / BOARD / "images"
HOST_FROM_GUEST = "10.0.2.2"  # QEMU user-mode network: the host's 127.0.0.1
CHANNEL_PORT = "org.nvr-edge.test"
# UEFI firmware for QEMU's arm64 virt machine (Debian's qemu-efi-aarch64): the A/B boot path
UEFI_FIRMWARE = Path("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd")


def build_image(timeout: float = 1800) -> dict:
    """`image/build` (a no-op when the inputs are unchanged); returns the manifest."""
    subprocess.run(["bash", str(REPO / "image" / "build"), BOARD], check=True, timeout=timeout)
    return json.loads((IMAGES / "manifest.json").read_text())


def partition(disk: Path, name: str) -> tuple[int, int]:
    """(offset, size) in bytes of the GPT partition called `name` (sfdisk --json)."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(disk)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    for part in table["partitions"]:
        if part.get("name") == name:
            return part["start"] * sector, part["size"] * sector
    raise AssertionError(f"no partition {name!r} in {disk}")


def make_disk(dest: Path, data_files: dict[str, str]) -> Path:
    """A private copy of disk.img whose data partition is a fresh ext4 holding `data_files`
    (e.g. the nvr-edge.toml override), as an installer or a lab would seed it."""
    # disk.img is mostly holes: copy it as such (shutil would write 1.5 GB of zeros)
    subprocess.run(["cp", "--sparse=always", str(IMAGES / "disk.img"), str(dest)], check=True)
    offset, size = partition(dest, "nvr-data")
    seed = dest.parent / "data-seed"
    shutil.rmtree(seed, ignore_errors=True)
    seed.mkdir()
    for name, text in data_files.items():
        (seed / name).write_text(text)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "nvr-data", "-d", str(seed),
                    "-E", f"offset={offset}", str(dest), f"{size // 1024}k"], check=True)
    return dest


@dataclass
class Reply:
    output: str
    rc: int


class ChannelTimeout(AssertionError):
    pass


class QemuVM:
    """qemu-system-aarch64 -M virt booting a disk copy: by default QEMU loads images/Image +
    initrd.img itself and starts slot A (`append` adds kernel arguments); with
    `firmware=True` UEFI firmware starts GRUB from the disk's EFI system partition, which
    picks the slot (the A/B update path; no kernel arguments from outside)."""

    def __init__(self, workdir: Path, disk: Path, *, cpu: str = "cortex-a53", smp: int = 2,
                 memory_mb: int = 1024, append: str = "", firmware: bool = False,
                 extra_disks: tuple[Path, ...] = ()) -> None:
        if firmware and append:
            raise ValueError("a firmware boot takes its kernel arguments from grub.cfg, not append")
        self.workdir, self.disk, self.cpu = workdir, disk, cpu
        self.smp, self.memory_mb, self.append = smp, memory_mb, append
        self.firmware = firmware
        self.extra_disks = extra_disks  # read-only, after the boot disk (/dev/vdb, ...)
        self.console_log = workdir / "console.log"
        self.channel_path = workdir / "channel.sock"
        self.monitor_path = workdir / "monitor.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._ids = itertools.count(1)

    def boot_args(self) -> list[str]:
        if self.firmware:
            return ["-bios", str(UEFI_FIRMWARE)]
        cmdline = (IMAGES / "cmdline.txt").read_text().strip()
        return ["-kernel", str(IMAGES / "Image"), "-initrd", str(IMAGES / "initrd.img"),
                "-append", f"{cmdline} {self.append}".strip()]

    def extra_disk_args(self) -> list[str]:
        args: list[str] = []
        for index, path in enumerate(self.extra_disks, start=1):
            args += ["-drive", f"file={path},format=raw,if=none,id=hd{index},readonly=on",
                     "-device", f"virtio-blk-pci,drive=hd{index}"]
        return args

    def command_line(self) -> list[str]:
        return [
            "qemu-system-aarch64", "-M", "virt", "-cpu", self.cpu, "-smp", str(self.smp),
            "-m", str(self.memory_mb), "-display", "none", "-nodefaults",
            *self.boot_args(),
            "-chardev", f"file,id=ser0,path={self.console_log}", "-serial", "chardev:ser0",
            "-drive", f"file={self.disk},format=raw,if=none,id=hd0,cache=writeback",
            # firmware boot: the disk first, no network boot attempts before it
            "-device", "virtio-blk-pci,drive=hd0,bootindex=0",
            *self.extra_disk_args(),
            # user-mode network, nothing forwarded in; virtio-net wants no option ROM file
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=ch0,path={self.channel_path},server=on,wait=off",
            "-device", f"virtserialport,chardev=ch0,name={CHANNEL_PORT}",
            "-monitor", f"unix:{self.monitor_path},server=on,wait=off",
        ]

    def start(self) -> QemuVM:
        log = open(self.workdir / "qemu.log", "ab")  # noqa: SIM115 - the child owns it
        self.started = time.monotonic()
        self.process = subprocess.Popen(tied(self.command_line()), stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        return self

    @property
    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def console_tail(self, lines: int = 40) -> str:
        return "\n".join(self.console.splitlines()[-lines:])

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"QEMU exited with {self.process.returncode}; console:\n"
                                 f"{self.console_tail()}")

    # ---------------------------------------------------------------- command channel
    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(self.channel_path))
            self._sock, self._buffer = sock, b""
        return self._sock

    def disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, command: str) -> str:
        ident = f"c{next(self._ids)}"
        self._connect().sendall(f"{ident} {command}\n".encode())
        return ident

    def _await(self, ident: str, timeout: float) -> Reply:
        sock = self._connect()
        begin, end = f"@@BEGIN {ident}\n".encode(), f"@@END {ident} ".encode()
        deadline = time.monotonic() + timeout
        while True:
            start = self._buffer.find(begin)
            stop = self._buffer.find(end, start + 1) if start >= 0 else -1
            if stop >= 0 and self._buffer.find(b"\n", stop + len(end)) >= 0:
                line_end = self._buffer.find(b"\n", stop + len(end))
                body = self._buffer[start + len(begin):stop].decode(errors="replace")
                rc = int(self._buffer[stop + len(end):line_end])
                self._buffer = self._buffer[line_end + 1:]
                return Reply(body.removesuffix("\n"), rc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(f"no answer from the guest to {ident} in {timeout:.0f} s")
            self._check_alive()
            sock.settimeout(min(remaining, 1.0))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.disconnect()
                raise ChannelTimeout("command channel closed")
            self._buffer += data

    def run(self, command: str, timeout: float = 120, check: bool = True) -> Reply:
        """Run a shell command in the guest as root."""
        reply = self._await(self._send(command), timeout)
        if check and reply.rc != 0:
            raise AssertionError(f"guest command failed ({reply.rc}): {command}\n{reply.output}")
        return reply

    def wait_channel(self, timeout: float) -> float:
        """Wait until the guest answers on the channel; returns seconds since start()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                # an unanswered ping stays queued and is answered (and ignored) later
                if self.run("echo ready", timeout=5).output == "ready":
                    return time.monotonic() - self.started
            except (ChannelTimeout, FileNotFoundError, ConnectionRefusedError):
                time.sleep(1)
        raise AssertionError(f"guest did not answer within {timeout:.0f} s; console:\n"
                             f"{self.console_tail()}")

    # --------------------------------------------------------------------- monitor
    def monitor(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.monitor_path))
            sock.settimeout(10)
            sock.sendall(f"{command}\n".encode())
            time.sleep(0.5)
            try:
                return sock.recv(65536).decode(errors="replace")
            except TimeoutError:
                return ""

    def hard_reset(self) -> None:
        """Like the reset button: no shutdown, whatever the guest had not written is lost."""
        self.monitor("system_reset")
        self.disconnect()

    def stop(self) -> None:
        self.disconnect()
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.monitor("quit")
            self.process.wait(15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, 9)
            self.process.wait(10)

