#!/usr/bin/env python3
"""Apply a board definition (hw/<board>.toml) to the target root filesystem.

Disks become /etc/fstab lines (with `x-systemd.makefs` where the board asks the first boot
to create a missing file system), ports become systemd-networkd files, and the definition
itself is installed as /etc/nvr-edge/hw.toml for the appliance and its plugins.

    hw-apply.py hw/rk3588.toml TARGET_DIR
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROLES = {"data", "cache", "archive"}


def fstab_lines(disks: list[dict]) -> list[str]:
    lines = []
    for disk in disks:
        if disk["role"] not in ROLES:
            raise SystemExit(f"hw-apply.py: disk role {disk['role']!r} not one of {ROLES}")
        # the data partition is the box's own disk: wait as long as systemd's default
        # (90 s) rather than drop to emergency mode; the boot test after a hard reset on a
        # busy host (TCG, load 10) saw it appear after udev's coldplug took over 30 s
        timeout = "90s" if disk["role"] == "data" else "30s"
        options = ["defaults", "noatime", f"x-systemd.device-timeout={timeout}"]
        if disk["role"] != "data":
            # a missing SSD or HDD must not stop the boot: the box stays reachable, records
            # onto the data partition and the tier floors raise the alerts
            options.append("nofail")
        if disk.get("makefs"):
            # systemd-makefs refuses to touch a device that already has a file system
            options += ["x-systemd.makefs", "x-systemd.growfs"]
        lines.append(f"{disk['device']} {disk['mount']} {disk['fstype']} {','.join(options)} 0 2")
    return lines


def network_file(port: dict) -> str:
    lines = ["[Match]", f"Name={port['match']}", "", "[Link]",
             f"RequiredForOnline={'yes' if port['role'] == 'uplink' else 'no'}", "", "[Network]"]
    if port.get("dhcp"):
        lines.append("DHCP=ipv4")
    if port.get("address"):
        lines.append(f"Address={port['address']}")
    if port.get("dhcp_server"):
        lines.append("DHCPServer=yes")
    if port.get("dhcp"):
        # the machine-id is new at every boot (read-only root): identify by MAC instead
        lines += ["", "[DHCPv4]", "ClientIdentifier=mac"]
    if port.get("dhcp_server"):
        lines += ["", "[DHCPServer]", "PoolOffset=100", "PoolSize=100", "EmitDNS=no",
                  "EmitRouter=no"]
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    definition, target = Path(sys.argv[1]), Path(sys.argv[2])
    hw = tomllib.loads(definition.read_text())
    fstab = target / "etc/fstab"
    existing = fstab.read_text() if fstab.exists() else ""
    fstab.write_text(existing + f"# disks of {hw['board']['id']} (from hw/{definition.name})\n"
                     + "\n".join(fstab_lines(hw.get("disks", []))) + "\n")
    netdir = target / "etc/systemd/network"
    netdir.mkdir(parents=True, exist_ok=True)
    for index, port in enumerate(hw.get("ports", []), start=10):
        (netdir / f"{index}-{port['name']}.network").write_text(network_file(port))
    (target / "etc/nvr-edge").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(definition, target / "etc/nvr-edge/hw.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
