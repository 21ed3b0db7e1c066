"""The rk3588 and rpi4 images build (rootfs, kernel, initrd, boot partition, disk.img).

Nothing here can boot them (no such hardware, no QEMU model of the SoCs): this checks that
what each board's defconfig and hw/ definition ask for is what the image holds.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from .qemu import REPO, partition

pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(1800)]


def initrd_files(path: Path) -> dict[str, bytes]:
    """Names and contents of a gzip'd `newc` cpio archive (what the kernel unpacks)."""
    data, files, pos = gzip.decompress(path.read_bytes()), {}, 0
    while True:
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        size, namesize = fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return files
        files[name] = data[pos:pos + size]
        pos = (pos + size + 3) & ~3


def defconfig(board: str) -> dict[str, str]:
    values = {}
    for line in (REPO / "image" / "configs" / f"{board}_defconfig").read_text().splitlines():
        if line.startswith("NVR_"):
            key, _, value = line.partition("=")
            values[key] = value.strip('"')
    return values


@pytest.mark.parametrize("board", ["rk3588", "rpi4"])
def test_board_image_builds_from_its_definition(board: str) -> None:
    subprocess.run(["bash", str(REPO / "image" / "build"), board], check=True, timeout=1700)
    out = REPO / "image" / "output" / board
    images, target = out / "images", out / "target"
    manifest = json.loads((images / "manifest.json").read_text())
    config = defconfig(board)
    hw = tomllib.loads((REPO / config["NVR_HW_DEFINITION"]).read_text())

    packages = {name.split(":")[0] for name in manifest["debian_packages"]}
    kernel_package = f"linux-image-{manifest['kernel']}"
    assert kernel_package in packages and "python3" in packages, sorted(packages)
    names = {d.rsplit("-", 1)[0] for d in manifest["python_distributions"]}
    assert {"nvr_edge", "av", "pluggy"} <= names, names

    # disks and ports of hw/<board>.toml became fstab lines and networkd files
    fstab = (target / "etc/fstab").read_text()
    for disk in hw["disks"]:
        assert f"{disk['device']} {disk['mount']} {disk['fstype']} " in fstab, disk
    for port in hw["ports"]:
        network = next((target / "etc/systemd/network").glob(f"*-{port['name']}.network"))
        assert f"Name={port['match']}" in network.read_text()
    assert (target / "etc/nvr-edge/hw.toml").read_text() == \
        (REPO / config["NVR_HW_DEFINITION"]).read_text()

    # disk.img: boot (extlinux with the defconfig's command line), rootfs, data
    for name in ("boot", "rootfs", "nvr-data"):
        partition(images / "disk.img", name)
    extlinux = (out / "build" / "boot" / "extlinux" / "extlinux.conf").read_text()
    assert f"append {config['NVR_KERNEL_CMDLINE']}" in extlinux
    loaded = initrd_files(images / "initrd.img")["etc/initrd-modules"].decode().split()
    builtin = (target / "usr/lib/modules" / manifest["kernel"] / "modules.builtin").read_text()
    for module in config["NVR_INITRD_MODULES"].split():
        ko = f"{module}.ko".replace("_", "-")
        assert ko in [m.replace("_", "-") for m in loaded] \
            or f"/{ko}" in builtin.replace("_", "-"), (module, loaded)
    assert manifest["files"]["rootfs.squashfs"]["bytes"] < 512 * 2**20  # fits its slot
