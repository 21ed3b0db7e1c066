"""A/B updates of the appliance image under QEMU (docs/UPDATES.md).

UEFI firmware (Debian's QEMU_EFI.fd) starts GRUB from the disk's EFI system partition; GRUB
picks a slot from RAUC's variables in grubenv and counts the attempt; `nvr-update-commit`
marks the booted slot good once user space is up. RAUC in the guest installs bundles from
a second, read-only virtio disk (no network copy of 200 MB under TCG).

Marker `update`: not in `ci/test` (pyproject's addopts deselect it; the image suite
already takes most of CI's budget). Run with `bash ci/test-updates`. Timings go to
image/output/<board>/update-test.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.update import bundles
from tests.update.bundles import small_slot_images

from .qemu import IMAGES, REPO, ChannelTimeout, QemuVM, build_image, make_disk

pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.update,
              pytest.mark.timeout(3600)]

BOOT_TIMEOUT = 600  # firmware + GRUB + kernel under TCG, on a shared 2-core host
GRUBENV = "/boot/efi/EFI/BOOT/grubenv"
BUNDLES = "/run/bundles"  # where the guest mounts the bundle disk
PKI = REPO / "image" / "output" / "dev-pki"  # image/build's development PKI
SCRIPTS = REPO / "image" / "scripts"
DEFCONFIG = REPO / "image" / "configs" / "qemu_aarch64_virt_defconfig"
MEASURED: dict[str, object] = {}


def record(key: str, value: object) -> None:
    MEASURED[key] = round(value, 1) if isinstance(value, float) else value
    (IMAGES.parent / "update-test.json").write_text(json.dumps(MEASURED, indent=1) + "\n")


def compatible() -> str:
    match = re.search(r'^NVR_RAUC_COMPATIBLE="([^"]+)"$', DEFCONFIG.read_text(), re.M)
    assert match, f"{DEFCONFIG}: no NVR_RAUC_COMPATIBLE"
    return match.group(1)


def make_bundle(images: Path, out: Path, version: str, *, pki: Path = PKI,
                board: str | None = None) -> Path:
    return bundles.make_bundle(images, out, version, pki=pki, board=board or compatible())


@pytest.fixture(scope="module")
def manifest() -> dict:
    for tool in ("qemu-system-aarch64", "rauc", "mksquashfs", "mke2fs", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"host tool {tool} missing: install image/host-packages.txt")
    started = time.monotonic()
    manifest = build_image()
    MEASURED.clear()
    record("build_or_reuse_s", time.monotonic() - started)
    record("bundle_mb", (IMAGES / "update.raucb").stat().st_size / 2**20)
    return manifest


@pytest.fixture(scope="module")
def bundle_disk(manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext4 image labelled `bundles` holding good.raucb (the build's own bundle),
    wrong-key.raucb (signed by a CA the image does not trust) and wrong-board.raucb
    (signed by the trusted key, for rk3588)."""
    work = tmp_path_factory.mktemp("bundles")
    folder = work / "files"
    folder.mkdir()
    os.link(IMAGES / "update.raucb", folder / "good.raucb")
    small = small_slot_images(work / "small")
    other_pki = work / "other-pki"
    subprocess.run(["bash", str(SCRIPTS / "dev-pki.sh"), str(other_pki), "untrusted"],
                   check=True)
    make_bundle(small, folder / "wrong-key.raucb", "9.9.9", pki=other_pki)
    make_bundle(small, folder / "wrong-board.raucb", "9.9.9", board="nvr-edge-rk3588")
    size = sum(f.stat().st_size for f in folder.iterdir()) * 11 // 10 + 16 * 2**20
    disk = work / "bundles.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-L", "bundles", "-d", str(folder),
                    str(disk), f"{size // 1024}k"], check=True)
    return disk


@pytest.fixture(scope="module")
def vm(manifest: dict, bundle_disk: Path,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuVM]:
    work = tmp_path_factory.mktemp("qemu-ab")
    # the image's default configuration (no cameras); a marker on the data partition
    disk = make_disk(work / "disk.img", {"before-update": "kept\n"})
    machine = QemuVM(work, disk, firmware=True, extra_disks=(bundle_disk,)).start()
    try:
        record("boot_to_channel_s", machine.wait_channel(BOOT_TIMEOUT))
        machine.run(f"mkdir -p {BUNDLES} && mount -o ro LABEL=bundles {BUNDLES}")
        yield machine
    finally:
        machine.stop()
        shutil.copyfile(machine.console_log, IMAGES.parent / "update-test-console.log")


def grubenv(vm: QemuVM) -> dict[str, str]:
    lines = vm.run(f"grub-editenv {GRUBENV} list").output.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def rauc_status(vm: QemuVM) -> dict:
    # stderr apart: RAUC logs there (e.g. "no bootable slot in ORDER" while a slot is on trial)
    return json.loads(vm.run("rauc status --detailed --output-format=json 2>/dev/null",
                             timeout=180).output)


def wait_committed(vm: QemuVM, slot: str, timeout: float = 600) -> dict[str, str]:
    """Wait until the commit unit has reset the booted slot's attempt counter."""
    deadline = time.monotonic() + timeout
    env: dict[str, str] = {}
    while time.monotonic() < deadline:
        env = grubenv(vm)
        if env.get(f"{slot}_OK") == "1" and env.get(f"{slot}_TRY") == "0":
            return env
        time.sleep(3)
    raise AssertionError(f"slot {slot} not committed within {timeout:.0f} s: grubenv {env}\n"
                         + vm.run("journalctl -u nvr-update-commit --no-pager -n 30",
                                  check=False).output)


def boot_id(vm: QemuVM) -> str:
    return vm.run("cat /proc/sys/kernel/random/boot_id").output.strip()


def reboot(vm: QemuVM, timeout: float = BOOT_TIMEOUT) -> float:
    """`systemctl reboot` in the guest; returns the seconds until the new boot answers."""
    before = boot_id(vm)
    started = time.monotonic()
    vm.run("systemctl reboot", check=False)
    vm.disconnect()
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            if boot_id(vm) != before:
                return time.monotonic() - started
        except (ChannelTimeout, OSError):
            vm.disconnect()
        time.sleep(2)
    raise AssertionError(f"the guest did not come back within {timeout:.0f} s; console:\n"
                         f"{vm.console_tail()}")


def slot_b_untouched(vm: QemuVM) -> bool:
    """Slot B's partitions were never written (zeros from the image build)."""
    return all(vm.run(f"cmp -s -n 1048576 /dev/disk/by-partlabel/{name} /dev/zero",
                      check=False).rc == 0 for name in ("rootfs_b", "boot_b"))


def test_firmware_boots_slot_a_and_commits_it(vm: QemuVM) -> None:
    cmdline = vm.run("cat /proc/cmdline").output
    assert "root=PARTLABEL=rootfs_a" in cmdline and "rauc.slot=A" in cmdline, cmdline
    assert "nvr-edge: slot A, attempt 1 of 3" in vm.console
    env = wait_committed(vm, "A")
    assert env["ORDER"] == "A B" and env["B_OK"] == "0", env
    status = rauc_status(vm)
    assert status["booted"] == "A" and status["compatible"] == compatible(), status
    assert vm.run("findmnt -no FSTYPE,OPTIONS /").output.startswith("squashfs ro")
    assert vm.run("findmnt -no FSTYPE /boot/efi").output.strip() == "vfat"
    assert vm.run("systemctl is-active nvr-edge.service", check=False).output.strip() in (
        "active", "activating")


@pytest.mark.parametrize(("bundle", "reason"), [
    ("wrong-key.raucb", r"signature|verif|certificate"),
    ("wrong-board.raucb", r"[Cc]ompatible"),
])
def test_bundle_refused_before_anything_is_written(vm: QemuVM, bundle: str,
                                                   reason: str) -> None:
    before = grubenv(vm)
    reply = vm.run(f"rauc install {BUNDLES}/{bundle}", timeout=300, check=False)
    assert reply.rc != 0, reply.output
    assert re.search(reason, reply.output), reply.output
    assert grubenv(vm) == before
    assert slot_b_untouched(vm)
    assert rauc_status(vm)["booted"] == "A"


def test_good_bundle_installs_to_slot_b_which_boots_and_is_committed(
        vm: QemuVM, manifest: dict) -> None:
    info = vm.run(f"rauc info --output-format=json {BUNDLES}/good.raucb 2>/dev/null",
                  timeout=300).output
    bundle_version = json.loads(info)["version"]
    started = time.monotonic()
    reply = vm.run(f"rauc install {BUNDLES}/good.raucb", timeout=1800, check=False)
    record("install_s", time.monotonic() - started)
    assert reply.rc == 0, reply.output
    env = grubenv(vm)
    assert env["ORDER"] == "B A" and env["B_OK"] == "1" and env["B_TRY"] == "0", env
    assert not slot_b_untouched(vm)

    record("reboot_to_channel_s", reboot(vm))
    cmdline = vm.run("cat /proc/cmdline").output
    assert "root=PARTLABEL=rootfs_b" in cmdline and "rauc.slot=B" in cmdline, cmdline
    assert "nvr-edge: slot B, attempt 1 of 3" in vm.console
    env = wait_committed(vm, "B")
    assert env["A_OK"] == "1", env  # the old slot stays bootable: the way back
    status = rauc_status(vm)
    assert status["booted"] == "B", status
    slots = {name: info for entry in status["slots"] for name, info in entry.items()}
    assert slots["rootfs.1"]["slot_status"]["bundle"]["version"] == bundle_version, slots
    # the data partition is not part of any slot
    assert vm.run("cat /var/lib/nvr-edge/before-update").output == "kept"
